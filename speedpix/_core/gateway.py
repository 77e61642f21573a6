"""The API's error layers as typed errors: the gateway's (HTTP status), the envelope's, no reply."""

from __future__ import annotations

from typing import Any

import httpx

from speedpix_api.types import Unset

from .effects import Envelope
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClockSkewError,
    ContentModerationError,
    RateLimitError,
    ServerError,
    ServiceError,
    SignatureError,
)
from .retry import parse_retry_after
from .signing import STRING_TO_SIGN_EXTENSION


def text(value: object) -> str | None:
    """A reply field as text; None where the reply left it out."""
    return None if value is None or isinstance(value, Unset) else str(value)


def transport_error(error: httpx.TransportError, *, what: str, task_id: str | None) -> APIConnectionError:
    # Only these prove the request never left.
    never_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    # The words first, then where and the HTTP library's name for it (for a bug report).
    reason = str(error).rstrip(".") or "no detail"
    detail = type(error).__name__
    try:  # where it tried: scheme://host:port only (a presigned URL's query is a secret)
        url = error.request.url
        host = f"[{url.host}]" if ":" in url.host else url.host
        detail = f"{url.scheme}://{host}:{url.port or {'http': 80, 'https': 443}.get(url.scheme)}, {detail}"
    except RuntimeError:  # an error raised without its request
        pass
    timed_out = isinstance(error, httpx.TimeoutException)
    kind, happened = (APITimeoutError, "timed out") if timed_out else (APIConnectionError, "failed with no response")
    return kind(f"{what} {happened}: {reason} ({detail}).", request_sent=not never_sent, task_id=task_id)


def describe_body(response: httpx.Response) -> str:
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
    if message == "Nonce Used" or message.startswith("Invalid"):
        return AuthenticationError(f"The gateway refused the request: {message} (HTTP {status}).", **common)
    if status >= 500:
        return ServerError(f"Server error HTTP {status} ({message or describe_body(response)}).", **common)
    return APIError(f"The gateway refused the request: HTTP {status} ({message or describe_body(response)}).", **common)


_ENVELOPE_ERRORS: dict[str, tuple[type[APIError], str]] = {
    "B_API_CauseFlowControl": (RateLimitError, "Rate limited by the service"),
    "B_API_AuditFailed": (ContentModerationError, "The content-security check refused the input"),
    "B_API_InvokeTimeout": (ServerError, "The service timed out"),
    "B_API_ServiceError": (ServiceError, "The service refused the call"),
}


def envelope_error(envelope: Envelope, *, request_id: str | None, task_id: str | None) -> APIError:
    """Layers 2 and 3: HTTP 200 with an envelope ``status`` other than 10."""
    # The envelope's fields are APIError's keywords of the same names.
    fields = ("err_code", "err_message", "sub_err_code", "sub_err_message", "api_invoke_id")
    common: dict[str, Any] = {name: text(getattr(envelope, name)) for name in fields}
    common.update(status_code=200, request_id=request_id, task_id=task_id)
    parts = (common["sub_err_code"] or common["err_code"], common["sub_err_message"] or common["err_message"])
    detail = ": ".join(part for part in parts if part) or f"envelope status {envelope.status}"
    kind, what = _ENVELOPE_ERRORS.get(common["err_code"] or "", (APIError, "The API returned an error"))
    return kind(f"{what} ({detail}).", **common)
