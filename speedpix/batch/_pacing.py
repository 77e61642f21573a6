"""How fast a batch submits, and when it stops: the :class:`Gate` holds it to as many jobs
at once as the service's throttling allows; the :class:`FailureLimit` (``--max-failures``)
says when failures should stop it submitting."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Final

from .._core.adaptive import AdaptiveLimit
from .._core.errors import InvalidInputError
from .._core.logging import logger

__all__ = ["MIN_FINISHED_FOR_PERCENT", "FailureLimit", "Gate"]

#: A percentage limit is checked only once this many jobs (at least) finished in the run.
MIN_FINISHED_FOR_PERCENT: Final = 10


@dataclass(frozen=True)
class FailureLimit:
    """When a batch stops submitting: ``count`` failures, or a ``ratio`` of the jobs
    finished in this run once at least ``max(10, ceil(1 / ratio))`` have finished (below
    that, one failure would already be over the ratio)."""

    count: int | None = None
    ratio: float | None = None

    @classmethod
    def parse(cls, value: int | str | None) -> FailureLimit | None:
        if value is None:
            return None
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                percent = float(value.strip()[:-1])
            except ValueError:
                percent = math.nan
            if not 0 < percent <= 100:
                raise InvalidInputError(f"max_failures: a percentage is from 0 (excluded) to 100%, got {value!r}")
            return cls(ratio=percent / 100)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"max_failures must be an integer >= 1 or a percentage like '10%', got {value!r}")
        return cls(count=value)

    @property
    def min_finished(self) -> int:
        return 0 if self.ratio is None else max(MIN_FINISHED_FOR_PERCENT, math.ceil(1 / self.ratio - 1e-9))

    def reached(self, failed: int, finished: int) -> str | None:
        """Why the batch stops now, or None."""
        if self.count is not None:
            return f"{failed} jobs failed (--max-failures {self.count})" if failed >= self.count else None
        assert self.ratio is not None
        if finished < self.min_finished or failed < self.ratio * finished:
            return None
        return f"{failed} of {finished} finished jobs failed (--max-failures {self.ratio * 100:g}%)"


class Gate:
    """At most ``limit.current`` jobs at once: a semaphore whose size the service's
    throttling sets (see _adaptive)."""

    def __init__(self, maximum: int) -> None:
        self.limit = AdaptiveLimit(maximum)
        self.in_flight = 0
        self._changed = threading.Condition()

    def enter(self, stop: threading.Event) -> bool:
        """Wait for a free slot; False if the batch is stopping."""
        with self._changed:
            while self.in_flight >= self.limit.current and not stop.is_set():
                self._changed.wait(0.2)
            if stop.is_set():
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify()

    def submitted(self) -> None:
        with self._changed:
            before = self.limit.current
            self.limit.on_success(self.in_flight)
            if self.limit.current > before:
                self._changed.notify()

    def throttled(self, started_at: float) -> None:
        with self._changed:
            before = self.limit.current
            self.limit.on_throttle(started_at, time.monotonic())
            if self.limit.current < before:
                logger.info("batch throttled: %d jobs at once now (was %d)", self.limit.current, before)
