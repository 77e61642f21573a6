"""When to retry and how long to wait first. A submission creates billed work: it is
repeated only when the request provably did no work (no connection, throttled, replayed nonce)."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final

import httpx

from .errors import (
    APIConnectionError,
    APIError,
    FileTransferError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    SpeedPixException,
)

DEFAULT_MAX_RETRIES: Final = 2
INITIAL_DELAY: Final = 0.5
MAX_DELAY: Final = 8.0
# A longer Retry-After is capped: one header should not park a caller of run() for minutes.
MAX_RETRY_AFTER: Final = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = INITIAL_DELAY
    max_delay: float = MAX_DELAY
    # False for callers that pace themselves (the batch runner): throttling is raised at once.
    retry_throttled: bool = True


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
        left = max(remaining, 0.001)
        capped = {name: left if value is None else min(value, left) for name, value in base.as_dict().items()}
        return httpx.Timeout(**capped)

    def allows_sleep(self, seconds: float) -> bool:
        remaining = self.remaining()
        return remaining is None or seconds < remaining


def may_have_run(error: SpeedPixException) -> bool:
    """Whether the request that failed with ``error`` might have done its work server-side
    (could it have created a task?): read by the retry policy and ``task_may_exist``."""
    if isinstance(error, APIConnectionError):
        return error.request_sent
    return isinstance(error, ServerError | MalformedResponseError)


def describes_task(error: APIError) -> bool:
    """Whether a result call's error is the task's failure (throttling, service timeouts,
    transport and gateway failures describe the call)."""
    return error.status_code == 200 and not isinstance(error, RateLimitError | MalformedResponseError | ServerError)


def is_transient(error: SpeedPixException, *, idempotent: bool) -> bool:
    """Whether repeating the request that failed with ``error`` may succeed and is safe."""
    if not idempotent and may_have_run(error):
        return False
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIError) and error.refused_before_work:
        # Of the authentication refusals, only a reused nonce is cured by signing anew.
        return isinstance(error, RateLimitError) or error.err_message == "Nonce Used"
    if not idempotent:
        return False
    if isinstance(error, FileTransferError):  # storage: "try again" statuses only
        return error.status_code is not None and (error.status_code in (408, 429) or error.status_code >= 500)
    return isinstance(error, ServerError | MalformedResponseError)


def retry_delay(
    error: SpeedPixException, *, attempt: int, idempotent: bool, policy: RetryPolicy, jitter: float | None = None
) -> float | None:
    """Seconds before attempt ``attempt + 1`` (doubling, times a jitter in [0.5, 1] that ``jitter``
    pins; a capped ``Retry-After`` wins), or None to give up."""
    if attempt > policy.max_retries or not is_transient(error, idempotent=idempotent):
        return None
    if not policy.retry_throttled and isinstance(error, RateLimitError):
        return None
    retry_after = error.retry_after if isinstance(error, APIError) else None
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, MAX_RETRY_AFTER)
    factor = random.uniform(0.5, 1.0) if jitter is None else jitter
    return min(policy.initial_delay * 2.0 ** (attempt - 1), policy.max_delay) * factor


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(when.timestamp() - (time.time() if now is None else now), 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
