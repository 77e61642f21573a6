"""How many batch jobs run at once, found from the service's throttling (AIMD, as TCP does)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .validate import count


@dataclass
class AdaptiveLimit:
    """``current`` jobs at once, between 1 and ``maximum`` (pure: time is passed in)."""

    maximum: int
    # Gentler than TCP's 0.5: a throttled submission costs one refused call, not lost data.
    decrease: float = 0.7
    limit: float = field(init=False)
    lowest: int = field(init=False)
    throttled: int = field(default=0, init=False)  # throttled submissions seen
    _decreased_at: float = field(default=-math.inf, init=False, repr=False)

    def __post_init__(self) -> None:
        self.limit = float(count("concurrency", self.maximum, minimum=1))
        self.lowest = self.maximum

    @property
    def current(self) -> int:
        return max(1, math.floor(self.limit))

    def on_throttle(self, started_at: float, now: float) -> None:
        """One decrease per round: submissions started before the last one ran at the old limit."""
        self.throttled += 1
        if started_at >= self._decreased_at:
            self.limit = max(1.0, self.limit * self.decrease)
            self._decreased_at = now
            self.lowest = min(self.lowest, self.current)

    def on_success(self, in_flight: int) -> None:
        """Grows (about one job per round) only while the limit is in full use."""
        if in_flight >= self.current:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
