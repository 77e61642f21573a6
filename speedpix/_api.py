"""Gateway calls through the generated client, with the API's errors made typed.

Each call is built by the generated operation module (``_get_kwargs``) and parsed by it
(``_parse_response``); between the two, :func:`api_call` sends it as a flow effect and
retries it under the policy of :mod:`._retry`. :func:`interpret` is the one place that
turns a response — or the lack of one — into data or a typed exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx

from speedpix_api import Client as GeneratedClient
from speedpix_api.api.files import sp_create_temp_file_upload_sign
from speedpix_api.api.predictions import comfy_get_progress, comfy_get_result, comfy_prompt
from speedpix_api.types import Unset

from ._flow import Call, Flow, Outcome, Sleep
from ._logging import logger
from ._retry import RetryPolicy, parse_retry_after, retry_delay
from ._signing import STRING_TO_SIGN_EXTENSION
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


@dataclass(frozen=True)
class Operation:
    name: str
    module: ModuleType
    # Safe to repeat: every read, and the upload signature (an unused one expires).
    idempotent: bool


SUBMIT = Operation("comfy_prompt", comfy_prompt, idempotent=False)
PROGRESS = Operation("comfy_get_progress", comfy_get_progress, idempotent=True)
RESULT = Operation("comfy_get_result", comfy_get_result, idempotent=True)
UPLOAD_SIGN = Operation("sp_create_temp_file_upload_sign", sp_create_temp_file_upload_sign, idempotent=True)

# The generated parsers only read ``raise_on_unexpected_status`` from their client.
_PARSER_CLIENT = GeneratedClient(base_url="http://parser.invalid")


@dataclass(frozen=True)
class CallSettings:
    """How one façade call talks to the API: its timeout, retries and overall deadline."""

    timeout: httpx.Timeout
    retry: RetryPolicy
    deadline: float | None = None  # time.monotonic() value after which nothing new starts

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def attempt_timeout(self, timeout: httpx.Timeout | None = None) -> httpx.Timeout:
        """The request timeout, shortened so that no attempt outlives the deadline."""
        base = timeout or self.timeout
        remaining = self.remaining()
        if remaining is None:
            return base
        remaining = max(remaining, 0.001)

        def cap(value: float | None) -> float:
            return remaining if value is None else min(value, remaining)

        return httpx.Timeout(connect=cap(base.connect), read=cap(base.read), write=cap(base.write), pool=cap(base.pool))

    def allows_sleep(self, seconds: float) -> bool:
        remaining = self.remaining()
        return remaining is None or seconds < remaining


@dataclass(frozen=True)
class Reply:
    """A successful call: the envelope's typed ``data`` and the ids that identify the call.

    ``answered_at`` (``time.monotonic()``) is our best guess of when the server wrote
    the answer: halfway through the attempt. Its ETAs count from then, not from when
    the answer reached us, which can be tens of milliseconds later.
    """

    data: Any
    api_invoke_id: str | None
    request_id: str | None
    answered_at: float = 0.0


def _text(value: object) -> str | None:
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
    content_type = response.headers.get("content-type", "no content type")
    return f"{content_type}, {len(response.content)} bytes"


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


def envelope_error(envelope: Any, *, request_id: str | None, task_id: str | None) -> APIError:
    """Layers 2 and 3: HTTP 200 with an envelope ``status`` other than 10."""
    err_code = _text(envelope.err_code)
    err_message = _text(envelope.err_message)
    sub_code = _text(envelope.sub_err_code)
    sub_message = _text(envelope.sub_err_message)
    common: dict[str, Any] = {
        "status_code": 200,
        "err_code": err_code,
        "err_message": err_message,
        "sub_err_code": sub_code,
        "sub_err_message": sub_message,
        "request_id": request_id,
        "api_invoke_id": _text(envelope.api_invoke_id),
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


def interpret(operation: Operation, outcome: Outcome, *, task_id: str | None = None) -> Reply | SpeedPixException:
    """The parsed envelope of a successful call, or the typed error describing the failure.

    Returns (not raises) the error, so the caller can decide on a retry first.
    """
    if outcome.error is not None:
        return transport_error(outcome.error, what=operation.name, task_id=task_id)
    response = outcome.response
    assert response is not None
    if response.status_code != 200:
        return gateway_error(response, task_id=task_id)
    request_id = response.headers.get("x-ca-request-id")
    try:
        envelope = operation.module._parse_response(client=_PARSER_CLIENT, response=response)
        status = envelope.status
    except (ValueError, TypeError, KeyError, AttributeError):
        return MalformedResponseError(
            f"{operation.name} returned a body that is not the API's JSON envelope ({_describe_body(response)}).",
            status_code=response.status_code,
            request_id=request_id,
            task_id=task_id,
        )
    if status != 10:
        return envelope_error(envelope, request_id=request_id, task_id=task_id)
    if not hasattr(envelope.data, "additional_properties"):  # null, absent, or not an object
        return MalformedResponseError(
            f"{operation.name} succeeded but returned no data.",
            request_id=request_id,
            api_invoke_id=_text(envelope.api_invoke_id),
            task_id=task_id,
        )
    return Reply(
        data=envelope.data,
        api_invoke_id=_text(envelope.api_invoke_id),
        request_id=request_id,
        answered_at=(outcome.sent_at + outcome.received_at) / 2,
    )


def _may_have_run(error: SpeedPixException) -> bool:
    """Whether a failed request might still have done its work server-side."""
    if isinstance(error, APIConnectionError):
        return error.request_sent
    return isinstance(error, ServerError | MalformedResponseError)


def api_call(
    operation: Operation,
    settings: CallSettings,
    *,
    task_id: str | None = None,
    **arguments: Any,
) -> Flow[Reply]:
    """Call ``operation`` with retries; return its :class:`Reply` or raise a typed error."""
    kwargs = operation.module._get_kwargs(**arguments)
    attempt = 0
    while True:
        attempt += 1
        outcome = yield Call(kwargs, settings.attempt_timeout(), attempt)
        result = interpret(operation, outcome, task_id=task_id)
        if isinstance(result, Reply):
            return result
        delay = retry_delay(result, attempt=attempt, idempotent=operation.idempotent, policy=settings.retry)
        if delay is None or not settings.allows_sleep(delay):
            if not operation.idempotent and _may_have_run(result):
                result.message += (
                    " The request may have reached the service, so a task may have been created; it was not "
                    "resubmitted, to avoid paying twice. Check the console or your task list before retrying."
                )
            raise result
        logger.info("retrying %s in %.2f s after: %s", operation.name, delay, result)
        yield Sleep(delay)
