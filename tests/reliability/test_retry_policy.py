"""The pure retry policy (:mod:`speedpix._core.retry`) and the error classification that feeds it.

Which failures are transient for a repeatable call (progress, result, upload sign,
storage transfers) and for a task submission; how long to wait (exponential backoff
with jitter, capped; ``Retry-After`` honoured but capped); when to give up.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speedpix._core.gateway import gateway_error, transport_error
from speedpix._core.retry import (
    DEFAULT_MAX_RETRIES,
    INITIAL_DELAY,
    MAX_DELAY,
    MAX_RETRY_AFTER,
    RetryPolicy,
    is_transient,
    parse_retry_after,
    retry_delay,
)
from speedpix.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ClockSkewError,
    ContentModerationError,
    FileTransferError,
    InvalidInputError,
    MalformedResponseError,
    PredictionError,
    RateLimitError,
    ServerError,
    ServiceError,
    SignatureError,
    SpeedPixException,
)

POLICY = RetryPolicy()


def _errors() -> dict[str, SpeedPixException]:
    return {
        "connect": APIConnectionError("no connection", request_sent=False),
        "dropped": APIConnectionError("dropped", request_sent=True),
        "connect_timeout": APITimeoutError("connect timeout", request_sent=False),
        "read_timeout": APITimeoutError("read timeout", request_sent=True),
        "http_429": RateLimitError("429", status_code=429),
        "throttled_403": RateLimitError("throttled", status_code=403, err_message="Throttled by APP Flow Control"),
        "flow_control": RateLimitError("flow", status_code=200, err_code="B_API_CauseFlowControl"),
        "http_503": ServerError("503", status_code=503),
        "invoke_timeout": ServerError("invoke timeout", status_code=200, err_code="B_API_InvokeTimeout"),
        "malformed": MalformedResponseError("bad json", status_code=200),
        "nonce_used": AuthenticationError("nonce", status_code=400, err_message="Nonce Used"),
        "bad_key": AuthenticationError("key", status_code=403, err_message="Invalid AppKey"),
        "signature": SignatureError("sig", status_code=400, err_message="Invalid Signature"),
        "clock": ClockSkewError("clock", status_code=400, err_message="Invalid Timestamp"),
        "moderation": ContentModerationError("audit", status_code=200, err_code="B_API_AuditFailed"),
        "service": ServiceError("service", status_code=200, err_code="B_API_ServiceError"),
        "not_found": APIError("404", status_code=404),
        "transfer": FileTransferError("404", status_code=404),
        "transfer_503": FileTransferError("503", status_code=503),
        "transfer_429": FileTransferError("429", status_code=429),
        "invalid_input": InvalidInputError("bad"),
        "prediction": PredictionError("failed"),
    }


# (idempotent, submit): whether each failure is worth repeating.
EXPECTED: dict[str, tuple[bool, bool]] = {
    "connect": (True, True),  # never reached the server: even a submission may be repeated
    "dropped": (True, False),  # may have created a task
    "connect_timeout": (True, True),
    "read_timeout": (True, False),
    "http_429": (True, True),
    "throttled_403": (True, True),
    "flow_control": (True, True),
    "http_503": (True, False),
    "invoke_timeout": (True, False),
    "malformed": (True, False),
    "nonce_used": (True, True),  # a fresh signature (new nonce) cures it
    "bad_key": (False, False),
    "signature": (False, False),
    "clock": (False, False),
    "moderation": (False, False),
    "service": (False, False),
    "not_found": (False, False),
    "transfer": (False, False),
    "transfer_503": (True, False),  # storage transfers are always repeatable (idempotent)
    "transfer_429": (True, False),
    "invalid_input": (False, False),
    "prediction": (False, False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transient_for_idempotent_calls(name: str) -> None:
    assert is_transient(_errors()[name], idempotent=True) is EXPECTED[name][0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transient_for_submission(name: str) -> None:
    assert is_transient(_errors()[name], idempotent=False) is EXPECTED[name][1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_retry_delay_agrees_with_is_transient(name: str) -> None:
    for idempotent in (True, False):
        delay = retry_delay(_errors()[name], attempt=1, idempotent=idempotent, policy=POLICY, jitter=1.0)
        assert (delay is not None) is EXPECTED[name][0 if idempotent else 1]


def test_defaults() -> None:
    assert DEFAULT_MAX_RETRIES == 2
    assert POLICY.max_retries == 2
    assert POLICY.initial_delay == INITIAL_DELAY == 0.5
    assert POLICY.max_delay == MAX_DELAY
    assert MAX_RETRY_AFTER <= 60


def test_backoff_doubles_then_caps() -> None:
    policy = RetryPolicy(max_retries=10)
    error = ServerError("503", status_code=503)
    delays = [retry_delay(error, attempt=n, idempotent=True, policy=policy, jitter=1.0) for n in range(1, 11)]
    assert delays[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert all(d == MAX_DELAY for d in delays[4:])


def test_jitter_scales_the_delay_between_half_and_full() -> None:
    error = ServerError("503", status_code=503)
    assert retry_delay(error, attempt=2, idempotent=True, policy=POLICY, jitter=0.5) == 0.5
    seen = {retry_delay(error, attempt=2, idempotent=True, policy=POLICY) for _ in range(300)}
    assert all(d is not None and 0.5 <= d <= 1.0 for d in seen)
    assert len(seen) > 100  # really random, not a constant
    assert min(d for d in seen if d is not None) < 0.6 and max(d for d in seen if d is not None) > 0.9


def test_max_retries_respected() -> None:
    error = ServerError("503", status_code=503)
    for max_retries in range(0, 5):
        policy = RetryPolicy(max_retries=max_retries)
        allowed = [n for n in range(1, 8) if retry_delay(error, attempt=n, idempotent=True, policy=policy) is not None]
        # attempt n failed; a retry follows for n = 1..max_retries: 1 + max_retries attempts in all.
        assert allowed == list(range(1, max_retries + 1))


def test_zero_retries_never_retries_even_throttling() -> None:
    policy = RetryPolicy(max_retries=0)
    for error in _errors().values():
        assert retry_delay(error, attempt=1, idempotent=True, policy=policy) is None


def test_retry_after_is_honoured() -> None:
    error = RateLimitError("429", status_code=429, retry_after=3.0)
    assert retry_delay(error, attempt=1, idempotent=False, policy=POLICY) == 3.0
    # It wins over a shorter backoff, with no jitter...
    assert retry_delay(error, attempt=2, idempotent=True, policy=POLICY, jitter=0.5) == 3.0
    # ...and over a longer one (the server knows when it is ready).
    error = ServerError("503", status_code=503, retry_after=0.1)
    assert retry_delay(error, attempt=2, idempotent=True, policy=POLICY) == 0.1


def test_retry_after_is_capped() -> None:
    error = RateLimitError("429", status_code=429, retry_after=3600.0)
    assert retry_delay(error, attempt=1, idempotent=True, policy=POLICY) == MAX_RETRY_AFTER


def test_retry_after_does_not_make_a_permanent_error_transient() -> None:
    error = ServerError("503", status_code=503, retry_after=1.0)
    assert retry_delay(error, attempt=1, idempotent=False, policy=POLICY) is None
    error2 = RateLimitError("429", status_code=429, retry_after=1.0)
    assert retry_delay(error2, attempt=3, idempotent=True, policy=POLICY) is None  # out of retries


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("2", 2.0),
        ("1.5", 1.5),
        ("-3", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP date in the past: retry now
        ("Wed, 21 Oct 2015 07:28", None),  # not a date
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_http_date() -> None:
    from email.utils import format_datetime, parsedate_to_datetime

    now = parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    later = format_datetime(parsedate_to_datetime("Wed, 21 Oct 2015 07:28:05 GMT"), usegmt=True)
    assert parse_retry_after(later, now=now) == 5.0


# ------------------------------------------------------------ classification feeding the policy


def _request() -> httpx.Request:
    return httpx.Request("POST", "https://gw.example/scc/comfy_get_progress")


@pytest.mark.parametrize(
    ("exc", "cls", "sent"),
    [
        (httpx.ConnectError("refused"), APIConnectionError, False),
        (httpx.ConnectTimeout("slow connect"), APITimeoutError, False),
        (httpx.PoolTimeout("pool"), APITimeoutError, False),
        (httpx.ReadTimeout("slow"), APITimeoutError, True),
        (httpx.WriteTimeout("slow"), APITimeoutError, True),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), APIConnectionError, True),
        (httpx.ReadError("reset"), APIConnectionError, True),
        (httpx.WriteError("broken pipe"), APIConnectionError, True),
    ],
)
def test_transport_errors_are_typed_and_know_whether_the_request_left(
    exc: httpx.TransportError, cls: type[APIConnectionError], sent: bool
) -> None:
    error = transport_error(exc, what="comfy_prompt", task_id=None)
    assert type(error) is cls
    assert error.request_sent is sent
    assert "comfy_prompt" in str(error)
    # A submission is repeated only when it provably never left.
    assert is_transient(error, idempotent=False) is (not sent)
    assert is_transient(error, idempotent=True)


def _response(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, content=body, request=_request())


@pytest.mark.parametrize(
    ("status", "headers", "cls", "idempotent_retry", "submit_retry"),
    [
        (503, {}, ServerError, True, False),
        (500, {"x-ca-error-message": "Internal Error"}, ServerError, True, False),
        (429, {}, RateLimitError, True, True),
        (403, {"x-ca-error-message": "Throttled by APP Flow Control"}, RateLimitError, True, True),
        (403, {"x-ca-error-message": "Throttled by API Flow Control"}, RateLimitError, True, True),
        (400, {"x-ca-error-message": "Nonce Used"}, AuthenticationError, True, True),
        (403, {"x-ca-error-message": "Invalid AppKey"}, AuthenticationError, False, False),
        (400, {"x-ca-error-message": "Invalid Timestamp"}, ClockSkewError, False, False),
        (400, {"x-ca-error-message": "Invalid Signature, Server StringToSign:POST#a"}, SignatureError, False, False),
        (400, {"x-ca-error-message": "Invalid Content-MD5"}, AuthenticationError, False, False),
        (404, {}, APIError, False, False),
    ],
)
def test_gateway_errors_are_typed(
    status: int, headers: dict[str, str], cls: type[APIError], idempotent_retry: bool, submit_retry: bool
) -> None:
    error = gateway_error(_response(status, {**headers, "x-ca-request-id": "REQ-1"}), task_id="t1")
    assert type(error) is cls
    assert error.request_id == "REQ-1"
    assert error.task_id == "t1"
    assert error.status_code == status
    assert is_transient(error, idempotent=True) is idempotent_retry
    assert is_transient(error, idempotent=False) is submit_retry


def test_gateway_retry_after_header_is_read() -> None:
    error = gateway_error(_response(429, {"retry-after": "2"}), task_id=None)
    assert error.retry_after == 2.0
    assert retry_delay(error, attempt=1, idempotent=False, policy=POLICY) == 2.0


def test_html_error_page_is_described_not_dumped() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000 + b"</body></html>"
    error = gateway_error(_response(502, {"content-type": "text/html"}, page), task_id=None)
    assert isinstance(error, ServerError)
    assert "<html" not in str(error).lower()
    assert "502" in str(error)


# ------------------------------------------------------------ properties

ALL_NAMES = sorted(EXPECTED)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(ALL_NAMES),
    idempotent=st.booleans(),
    attempt=st.integers(min_value=1, max_value=50),
    max_retries=st.integers(min_value=0, max_value=20),
    initial=st.floats(min_value=0.0, max_value=5.0),
    cap=st.floats(min_value=0.0, max_value=60.0),
    jitter=st.one_of(st.none(), st.floats(min_value=0.5, max_value=1.0)),
)
def test_delay_is_bounded_and_none_exactly_when_it_should_be(
    name: str,
    idempotent: bool,
    attempt: int,
    max_retries: int,
    initial: float,
    cap: float,
    jitter: float | None,
) -> None:
    policy = RetryPolicy(max_retries=max_retries, initial_delay=initial, max_delay=cap)
    error = _errors()[name]
    delay = retry_delay(error, attempt=attempt, idempotent=idempotent, policy=policy, jitter=jitter)
    should = attempt <= max_retries and EXPECTED[name][0 if idempotent else 1]
    assert (delay is not None) is should
    if delay is not None:
        assert 0.0 <= delay <= cap
        base = min(initial * 2.0 ** (attempt - 1), cap)
        assert base * 0.5 - 1e-9 <= delay <= base + 1e-9


@settings(max_examples=200, deadline=None)
@given(
    retry_after=st.floats(min_value=0.0, max_value=1e9, allow_nan=False),
    attempt=st.integers(min_value=1, max_value=2),
    idempotent=st.booleans(),
)
def test_retry_after_property(retry_after: float, attempt: int, idempotent: bool) -> None:
    error = RateLimitError("429", status_code=429, retry_after=retry_after)
    delay = retry_delay(error, attempt=attempt, idempotent=idempotent, policy=POLICY)
    assert delay == min(retry_after, MAX_RETRY_AFTER)


@settings(max_examples=100, deadline=None)
@given(attempts=st.integers(min_value=1, max_value=30), initial=st.floats(min_value=0.001, max_value=2.0))
def test_backoff_never_shrinks_before_jitter(attempts: int, initial: float) -> None:
    policy = RetryPolicy(max_retries=100, initial_delay=initial, max_delay=MAX_DELAY)
    error = ServerError("503", status_code=503)
    delays: list[Any] = [
        retry_delay(error, attempt=n, idempotent=True, policy=policy, jitter=1.0) for n in range(1, attempts + 1)
    ]
    assert delays == sorted(delays)
    assert max(delays) <= MAX_DELAY


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_parse_retry_after_never_raises(text: str) -> None:
    value = parse_retry_after(text)
    assert value is None or (value >= 0 and value == value and value != float("inf"))
