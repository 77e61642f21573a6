"""When to retry and how long to wait first: one pure function for every driver.

Reading a task's progress or result, asking for an upload signature, uploading or
downloading a file are all safe to repeat. Submitting a task is not: it creates billed
work. So a submission is repeated only when the request provably did no work — the
connection was never made, or the gateway refused it by throttling, a replayed nonce
or a stale clock — and never after it may have reached the service.
"""

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
# A server asking for longer than this is answered with MAX_RETRY_AFTER instead: a
# caller waiting on run() should not be parked for minutes by one header.
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
        remaining = max(remaining, 0.001)

        def cap(value: float | None) -> float:
            return remaining if value is None else min(value, remaining)

        return httpx.Timeout(connect=cap(base.connect), read=cap(base.read), write=cap(base.write), pool=cap(base.pool))

    def allows_sleep(self, seconds: float) -> bool:
        remaining = self.remaining()
        return remaining is None or seconds < remaining


def may_have_run(error: SpeedPixException) -> bool:
    """Whether the request that failed with ``error`` might still have done its work
    server-side: the one answer to "could this call have created a task?", read by the
    retry policy, by the creation flow (``task_may_exist``) and so by the batch."""
    if isinstance(error, APIConnectionError):
        return error.request_sent
    return isinstance(error, ServerError | MalformedResponseError)


def is_transient(error: SpeedPixException, *, idempotent: bool) -> bool:
    """Whether repeating the request that failed with ``error`` may succeed and is safe."""
    if not idempotent and may_have_run(error):
        return False  # it may have created (billed) work: never repeated
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIError) and error.refused_before_work:
        # Throttling always; of the authentication refusals only those a fresh
        # signature can cure (a reused nonce). A wrong key or secret stays wrong.
        return isinstance(error, RateLimitError) or error.err_message == "Nonce Used"
    if not idempotent:
        return False
    if isinstance(error, FileTransferError):  # storage: "try again" statuses only
        return error.status_code is not None and (error.status_code in (408, 429) or error.status_code >= 500)
    return isinstance(error, ServerError | MalformedResponseError)


def retry_delay(
    error: SpeedPixException,
    *,
    attempt: int,
    idempotent: bool,
    policy: RetryPolicy,
    jitter: float | None = None,
) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to give up and raise.

    ``attempt`` counts the attempts made so far, from 1. The delay doubles each time
    from ``policy.initial_delay`` up to ``policy.max_delay``, scaled by a jitter factor
    in [0.5, 1] (``jitter`` pins it for tests); a ``Retry-After`` from the server wins,
    capped at ``MAX_RETRY_AFTER``.
    """
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
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
