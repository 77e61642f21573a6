"""The exceptions of the SDK: one hierarchy for the API's three error layers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..predictions import Prediction

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


class SpeedPixException(Exception):
    """Base class of every error the SDK raises (also importable as ``SpeedPixError``).

    ``task_id``: the task an error concerns, once submitted (resume with
    ``client.predictions.get(task_id)``). From creating a task (``run``,
    ``predictions.create``): ``phase`` is ``"validating"`` (nothing was sent),
    ``"uploading"`` (no task submitted) or ``"submitting"``; ``task_may_exist`` whether
    a task may have been created. Both None for other calls.
    """

    phase: str | None = None
    task_may_exist: bool | None = None

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.task_id = task_id

    def __str__(self) -> str:
        if self.task_id and self.task_id not in self.message:
            return f"{self.message} (task {self.task_id}; resume with predictions.get({self.task_id!r}))"
        return self.message


SpeedPixError = SpeedPixException


class InvalidInputError(SpeedPixException, ValueError, TypeError):
    """An argument or input value is not acceptable; raised before any request is sent.

    Also a ``ValueError`` and a ``TypeError``, so code that catches either keeps working."""

    phase = "validating"
    task_may_exist = False


class ConfigurationError(InvalidInputError):
    """The client is missing a credential or has a malformed setting."""


class APIError(SpeedPixException):
    """The service answered with an error, at any of its three layers.

    ``status_code`` is the HTTP status; ``err_code``/``err_message`` the business
    gateway's error (envelope ``status`` other than 10); ``sub_err_code``/
    ``sub_err_message`` the application's own error; ``request_id`` the gateway's
    ``X-Ca-Request-Id`` and ``api_invoke_id`` the envelope's ``apiInvokeId``.
    """

    #: Whether a request refused this way provably did no work, so even a task
    #: submission may be sent again.
    refused_before_work: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        err_code: str | None = None,
        err_message: str | None = None,
        sub_err_code: str | None = None,
        sub_err_message: str | None = None,
        request_id: str | None = None,
        api_invoke_id: str | None = None,
        retry_after: float | None = None,
        task_id: str | None = None,
    ) -> None:
        super().__init__(message, task_id=task_id)
        self.status_code = status_code
        self.err_code = err_code
        self.err_message = err_message
        self.sub_err_code = sub_err_code
        self.sub_err_message = sub_err_message
        self.request_id = request_id
        self.api_invoke_id = api_invoke_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        ids = [f"{name}={getattr(self, name)}" for name in ("request_id", "api_invoke_id") if getattr(self, name)]
        text = super().__str__()
        return f"{text} [{', '.join(ids)}]" if ids else text


class AuthenticationError(APIError):
    """The gateway refused the credentials (unknown app key, bad signature, stale timestamp…)."""

    refused_before_work = True


class SignatureError(AuthenticationError):
    """The gateway computed a different signature: ``server_string_to_sign`` is what it signed
    (echoed back), ``client_string_to_sign`` what we signed (neither contains the secret)."""

    def __init__(
        self,
        message: str,
        *,
        server_string_to_sign: str | None = None,
        client_string_to_sign: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.server_string_to_sign = server_string_to_sign
        self.client_string_to_sign = client_string_to_sign


class ClockSkewError(AuthenticationError):
    """The gateway refused the request's timestamp: this machine's clock is off by more than 15 minutes."""


class RateLimitError(APIError):
    """Throttled: HTTP 429, the gateway's ``Throttled by … Flow Control`` or ``B_API_CauseFlowControl``."""

    refused_before_work = True


class ServerError(APIError):
    """The gateway or the service failed (HTTP 5xx, ``B_API_InvokeTimeout``)."""


class ContentModerationError(APIError):
    """``B_API_AuditFailed``: the content-security check refused the input."""


class ServiceError(APIError):
    """``B_API_ServiceError``: the application refused the call; see ``sub_err_code``/``sub_err_message``."""


class MalformedResponseError(APIError):
    """The response could not be read as the API's JSON envelope."""


class APIConnectionError(SpeedPixException):
    """The request could not be completed: the connection failed or was dropped."""

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool = True,
        task_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, task_id=task_id)
        #: False only when the connection was never made, so the server cannot have
        #: seen the request.
        self.request_sent = request_sent
        self.request_id = request_id


class APITimeoutError(APIConnectionError, TimeoutError):
    """A request did not complete within its timeout."""


class FileTransferError(APIError):
    """Uploading an input file or downloading an output file failed."""


class PredictionError(SpeedPixException):
    """The task ran and failed. ``prediction`` holds its id, error and error code."""

    def __init__(self, message: str, *, prediction: Prediction | None = None) -> None:
        super().__init__(message, task_id=prediction.id if prediction is not None else None)
        self.prediction = prediction


class PredictionTimeoutError(PredictionError, TimeoutError):
    """Waiting for the task ran out of time. The task goes on server-side:
    ``prediction.wait()`` or ``client.predictions.get(task_id)`` resume it."""
