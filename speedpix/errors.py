"""The exceptions of the SDK (defined in :mod:`speedpix._core.errors`): one hierarchy
for the API's three error layers, rooted at :class:`SpeedPixException`."""

from ._core.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClockSkewError,
    ConfigurationError,
    ContentModerationError,
    FileTransferError,
    InvalidInputError,
    MalformedResponseError,
    PredictionError,
    PredictionTimeoutError,
    RateLimitError,
    ServerError,
    ServiceError,
    SignatureError,
    SpeedPixError,
    SpeedPixException,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ClockSkewError",
    "ConfigurationError",
    "ContentModerationError",
    "FileTransferError",
    "InvalidInputError",
    "MalformedResponseError",
    "PredictionError",
    "PredictionTimeoutError",
    "RateLimitError",
    "ServerError",
    "ServiceError",
    "SignatureError",
    "SpeedPixError",
    "SpeedPixException",
]
