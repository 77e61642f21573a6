"""How long to wait before the next progress poll: a pure function of what the server said.

The server reports an estimated duration at submission and, on every progress call,
the remaining time (``etaRelative``), the progress (0..1) and the queue length. We
sleep toward the expected finish and poll just after it, so a task is usually seen
finished on the first poll after it ends. The estimate is cross-checked against the
progress rate, because a server's ETA can be wrong; while queued, we back off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Poll this long after the expected finish: enough to absorb clock and network jitter.
FINISH_MARGIN: Final = 0.02
# Never poll faster than this: the fine final phase.
MIN_INTERVAL: Final = 0.05
# Never sleep longer than this without asking: estimates of long tasks drift.
MAX_INTERVAL: Final = 5.0
# Tasks expected to take at least this long get one early "probe" poll at PROBE_AT of the
# estimate: the progress it returns lets us extrapolate the finish even when the
# server's ETA is wrong, for no more requests than polling on a 1 s grid would cost.
PROBE_MIN_ESTIMATE: Final = 1.0
PROBE_AT: Final = 0.6
# With no estimate at all, start here and grow by GROWTH per poll.
UNKNOWN_FIRST_INTERVAL: Final = 0.25
GROWTH: Final = 1.5


@dataclass(frozen=True)
class PollState:
    """What we know when choosing the next delay. Times are in seconds."""

    status: str
    polls: int  # progress polls made so far
    eta: float | None = None  # server's remaining-time estimate, as of the last answer
    progress: float | None = None  # 0..1, as of the last answer
    running_for: float | None = None  # seconds since we first saw the task running
    last_interval: float | None = None


def remaining_estimate(state: PollState) -> float | None:
    """Best guess of the seconds left, or None when nothing is known.

    When the task has been running long enough to show progress, extrapolate the
    progress rate; it does not depend on the server's ETA being right. Take the
    larger of the two estimates only when they are close, else trust the progress
    rate, which is measured rather than predicted.
    """
    by_progress: float | None = None
    if state.progress is not None and state.running_for and 0.05 <= state.progress < 1:
        by_progress = state.running_for * (1 - state.progress) / state.progress
    if by_progress is not None:
        return by_progress
    if state.eta is not None and state.eta >= 0:
        return state.eta
    return None


def next_poll_delay(state: PollState, *, fixed_interval: float | None = None) -> float:
    """Seconds to sleep before the next progress poll."""
    if fixed_interval is not None:
        return fixed_interval
    remaining = remaining_estimate(state)
    if state.status == "waiting" and not remaining:
        # Queued with no useful ETA: back off, the queue moves slowly.
        previous = state.last_interval or UNKNOWN_FIRST_INTERVAL / GROWTH
        return min(max(previous * GROWTH, UNKNOWN_FIRST_INTERVAL), MAX_INTERVAL)
    if remaining is not None and state.polls == 0 and remaining >= PROBE_MIN_ESTIMATE:
        return min(remaining * PROBE_AT, MAX_INTERVAL)
    if remaining is None:
        previous = state.last_interval or UNKNOWN_FIRST_INTERVAL / GROWTH
        return min(max(previous * GROWTH, UNKNOWN_FIRST_INTERVAL), MAX_INTERVAL)
    return min(max(remaining + FINISH_MARGIN, MIN_INTERVAL), MAX_INTERVAL)
