"""How many batch jobs run at once, found from the service's throttling (AIMD).

An account's quota (submissions per second, tasks at once) is the usual limit of a
batch, and it is not published. So the batch starts at the concurrency it was given
and adapts, as TCP does to a network: each throttled submission cuts the concurrency
(multiplicative decrease), each successful one grows it a little (additive increase:
about one job more per round of successes), never above the given maximum. With the
number of jobs at once bounded, the rate of submissions is bounded too (jobs at once
divided by the time a job takes).

Pure: time is passed in. The batch runner holds one and asks it ``current``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class AdaptiveLimit:
    """``current`` jobs at once, between 1 and ``maximum``."""

    maximum: int
    #: What a throttle multiplies the limit by. Gentler than TCP's 0.5: a throttled
    #: submission costs one refused call, not lost data, so running a little over the
    #: quota is cheap and running under it is not.
    decrease: float = 0.7
    limit: float = field(init=False)
    lowest: int = field(init=False)
    #: Throttled submissions seen, whether or not they lowered the limit.
    throttled: int = field(default=0, init=False)
    _decreased_at: float = field(default=-math.inf, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.maximum < 1:
            raise ValueError("maximum must be at least 1")
        self.limit = float(self.maximum)
        self.lowest = self.maximum

    @property
    def current(self) -> int:
        return max(1, math.floor(self.limit))

    def on_throttle(self, started_at: float, now: float) -> None:
        """A submission started at ``started_at`` was throttled, seen at ``now``.

        One decrease per round: submissions started before the last decrease were
        sent at the old concurrency, so their throttling says nothing new."""
        self.throttled += 1
        if started_at < self._decreased_at:
            return
        self.limit = max(1.0, self.limit * self.decrease)
        self._decreased_at = now
        self.lowest = min(self.lowest, self.current)

    def on_success(self, in_flight: int) -> None:
        """A submission went through while ``in_flight`` jobs were running.

        Grows only while the limit is in full use: a batch running fewer jobs than
        it may has shown nothing about a higher one."""
        if in_flight >= self.current:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
