"""What a gateway reply means: the one place where replies are interpreted.

:func:`interpret` turns what came back from one attempt — a parsed envelope, an HTTP
response the generated parser refused, or no response — into a :class:`Reply` or the
typed error describing the failure (returned, not raised, so the caller can decide on
a retry first). :func:`transport_error` does the same for a request that got no reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import httpx

from speedpix_api.types import Unset

from .effects import Call, CallOutcome, E, Envelope
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClockSkewError,
    ContentModerationError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    ServiceError,
    SignatureError,
    SpeedPixException,
)
from .retry import parse_retry_after
from .signing import STRING_TO_SIGN_EXTENSION

T = TypeVar("T")


@dataclass(frozen=True)
class Reply(Generic[E]):
    """A successful call: the generated envelope model, and the ids that identify the call.

    ``answered_at`` (``time.monotonic()``) is our best guess of when the server wrote
    the answer: halfway through the attempt. Its ETAs count from then, not from when
    the answer reached us, which can be tens of milliseconds later.
    """

    envelope: E
    api_invoke_id: str | None
    request_id: str | None
    answered_at: float = 0.0


def present(value: T | Unset | None) -> T:
    """A reply's ``data``, which :func:`interpret` has checked is there."""
    assert value is not None and not isinstance(value, Unset)
    return value


def value_of(value: T | Unset | None) -> T | None:
    """A reply field's value, None where the reply left it out."""
    return None if isinstance(value, Unset) else value


def text(value: object) -> str | None:
    return None if value is None or isinstance(value, Unset) else str(value)


def transport_error(error: httpx.TransportError, *, what: str, task_id: str | None) -> APIConnectionError:
    """A typed error for a request that got no response."""
    # Only these prove the request never left: no connection was made.
    never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    try:  # where it tried: scheme://host:port only (a presigned URL's query is a secret)
        url = error.request.url
        host = f"[{url.host}]" if ":" in url.host else url.host
        detail = f"{url.scheme}://{host}:{url.port or {'http': 80, 'https': 443}.get(url.scheme)}: {detail}"
    except RuntimeError:  # an error raised without its request
        pass
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"{what} timed out ({detail})", request_sent=not never_sent, task_id=task_id)
    return APIConnectionError(f"{what} failed: no response ({detail})", request_sent=not never_sent, task_id=task_id)


def _describe_body(response: httpx.Response) -> str:
    """A short description of an unexpected body: never a dump of an HTML page."""
    content_type = str(response.headers.get("content-type", "no content type"))
    try:
        return f"{content_type}, {len(response.content)} bytes"
    except httpx.ResponseNotRead:
        return content_type


def gateway_error(response: httpx.Response, *, task_id: str | None) -> APIError:
    """Layer 1: the API gateway refused the request (HTTP status other than 200)."""
    status = response.status_code
    message = response.headers.get("x-ca-error-message", "")
    common: dict[str, Any] = {
        "status_code": status,
        "err_message": message or None,
        "request_id": response.headers.get("x-ca-request-id"),
        "retry_after": parse_retry_after(response.headers.get("retry-after")),
        "task_id": task_id,
    }
    if message.startswith("Invalid Signature"):
        server = message.partition("StringToSign:")[2].replace("#", "\n") or None
        client = response.request.extensions.get(STRING_TO_SIGN_EXTENSION) if response.request else None
        text = "The gateway refused the signature: check app_key and app_secret."
        if server is not None and server == client:
            # It knows the key (else "Invalid AppKey") and signed what we signed: only the secret differs.
            text = (
                "The gateway refused the signature of the same string-to-sign as ours: the app secret is wrong. "
                "Check app_secret / SPEEDPIX_APP_SECRET (the AppSecret of this AppKey in the 智作工坊 console)."
            )
        if server is not None and client is not None and server != client:
            text += f"\nServer string-to-sign:\n{server}\nOur string-to-sign:\n{client}"
        return SignatureError(text, server_string_to_sign=server, client_string_to_sign=client, **common)
    if message == "Invalid Timestamp":
        return ClockSkewError(
            "The gateway refused the request's timestamp: this machine's clock differs from the "
            "server's by more than 15 minutes. Synchronise the system clock (e.g. enable NTP) and retry.",
            **common,
        )
    if message == "Invalid AppKey":
        return AuthenticationError(
            "The gateway does not know this app key: check app_key / SPEEDPIX_APP_KEY "
            "(the application's AppKey from the 智作工坊 console).",
            **common,
        )
    if status == 429 or "throttled" in message.lower():
        return RateLimitError(f"Rate limited by the gateway (HTTP {status}: {message or 'throttled'}).", **common)
    if message in ("Nonce Used", "Invalid Content-MD5") or message.startswith("Invalid"):
        return AuthenticationError(f"The gateway refused the request: {message} (HTTP {status}).", **common)
    if status >= 500:
        return ServerError(f"Server error HTTP {status} ({message or _describe_body(response)}).", **common)
    return APIError(
        f"The gateway refused the request: HTTP {status} ({message or _describe_body(response)}).", **common
    )


def envelope_error(envelope: Envelope, *, request_id: str | None, task_id: str | None) -> APIError:
    """Layers 2 and 3: HTTP 200 with an envelope ``status`` other than 10."""
    err_code = text(envelope.err_code)
    err_message = text(envelope.err_message)
    sub_code = text(envelope.sub_err_code)
    sub_message = text(envelope.sub_err_message)
    common: dict[str, Any] = {
        "status_code": 200,
        "err_code": err_code,
        "err_message": err_message,
        "sub_err_code": sub_code,
        "sub_err_message": sub_message,
        "request_id": request_id,
        "api_invoke_id": text(envelope.api_invoke_id),
        "task_id": task_id,
    }
    detail = ": ".join(part for part in (sub_code or err_code, sub_message or err_message) if part)
    detail = detail or f"envelope status {envelope.status}"
    if err_code == "B_API_CauseFlowControl":
        return RateLimitError(f"Rate limited by the service ({detail}).", **common)
    if err_code == "B_API_AuditFailed":
        return ContentModerationError(f"The content-security check refused the input ({detail}).", **common)
    if err_code == "B_API_InvokeTimeout":
        return ServerError(f"The service timed out ({detail}).", **common)
    if err_code == "B_API_ServiceError":
        return ServiceError(f"The service refused the call ({detail}).", **common)
    return APIError(f"The API returned an error ({detail}).", **common)


def interpret(call: Call[E], outcome: CallOutcome[E], *, task_id: str | None = None) -> Reply[E] | SpeedPixException:
    """The parsed envelope of a successful call, or the typed error describing the failure.

    Returns (not raises) the error, so the caller can decide on a retry first.
    """
    response = outcome.response
    if isinstance(outcome.error, httpx.TransportError):
        return transport_error(outcome.error, what=call.name, task_id=task_id)
    request_id = response.headers.get("x-ca-request-id") if response is not None else None
    if outcome.error is not None or response is None:  # a reply refused as it arrived
        detail = str(outcome.error) if outcome.error is not None else "no response"
        return MalformedResponseError(
            f"{call.name} returned an unreadable reply: {detail}.", request_id=request_id, task_id=task_id
        )
    if response.status_code != 200:
        return gateway_error(response, task_id=task_id)
    envelope = outcome.parsed.parsed if outcome.parsed is not None else None
    if envelope is None:
        return MalformedResponseError(
            f"{call.name} returned a body that is not the API's JSON envelope ({_describe_body(response)}).",
            status_code=response.status_code,
            request_id=request_id,
            task_id=task_id,
        )
    if envelope.status != 10:
        return envelope_error(envelope, request_id=request_id, task_id=task_id)
    if envelope.data is None or isinstance(envelope.data, Unset):
        return MalformedResponseError(
            f"{call.name} succeeded but returned no data.",
            request_id=request_id,
            api_invoke_id=text(envelope.api_invoke_id),
            task_id=task_id,
        )
    return Reply(
        envelope=envelope,
        api_invoke_id=text(envelope.api_invoke_id),
        request_id=request_id,
        answered_at=(outcome.sent_at + outcome.received_at) / 2,
    )


# The server's spellings, mapped to ours. Unknown statuses are kept as sent and treated
# as "still working" (the wait's deadline bounds them).
_STATUS_ALIASES: Final = {"successed": "succeeded", "success": "succeeded", "cancelled": "canceled"}
TERMINAL_STATUSES: Final = frozenset({"succeeded", "failed", "canceled"})


def normalise_status(status: object) -> str:
    text = str(status).strip().lower() if status is not None and not isinstance(status, Unset) else "unknown"
    return _STATUS_ALIASES.get(text, text)
