"""When to poll a task next: sleep toward the expected finish, then ask for the result directly
(one call sees it finished and brings the output); an early probe checks the estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

# Poll this long after the expected finish: enough to absorb clock and network jitter.
FINISH_MARGIN: Final = 0.02
# Never poll faster than this: the fine final phase.
MIN_INTERVAL: Final = 0.05
# Never sleep longer than this without asking: estimates of long tasks drift.
MAX_INTERVAL: Final = 5.0
# Every task gets one early "probe" progress poll at PROBE_AT of the estimate: the
# progress it returns lets us extrapolate the finish even when the server's ETA is wrong
# (by half, either way). Since the aimed poll then fetches the result directly, the
# probe costs no more requests than polling on a 1 s grid would.
PROBE_AT: Final = 0.6
# With a listener: the first poll this soon (to show where the task stands: queued, and
# its place in the queue), then never more than LISTENING_INTERVAL apart. About 60
# progress calls per minute of task, against at most 12 (one per MAX_INTERVAL) without.
LISTENING_FIRST: Final = 0.5
LISTENING_INTERVAL: Final = 1.0
# A workflow's estimates are trusted once TRUST_AFTER probes in a row confirmed them:
# its next tasks skip the probe, but one in VERIFY_EVERY still makes it.
TRUST_AFTER: Final = 3
VERIFY_EVERY: Final = 8
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
    running_for: float | None = None  # seconds from when we first saw the task running to the last answer
    progress_rate: float | None = None  # progress per second, measured between two polls
    elapsed: float | None = None  # seconds from submission to the last answer, when known
    estimated_total: float | None = None  # the server's duration estimate at submission
    last_interval: float | None = None
    misses: int = 0  # result polls so far that found the task not yet finished
    last_missed: bool = False  # the last poll was one of those
    # Seconds since the server wrote its last answer: the estimates above are as of then.
    answer_age: float = 0.0
    # The probe was skipped (EstimateTrust): aim at the finish from the estimate alone.
    probe_skipped: bool = False


class Poll(NamedTuple):
    """After ``delay`` seconds, poll the result (True) or the progress."""

    delay: float
    result: bool


def remaining_estimate(state: PollState) -> float | None:
    """Best guess of the seconds left, or None: the measured progress rate, else an ETA that
    agrees with the submission's estimate, else progress over running time, else the ETA."""
    if state.progress is not None and state.progress_rate and 0 <= state.progress < 1:
        return (1 - state.progress) / state.progress_rate
    if eta_is_consistent(state):
        return state.eta
    if state.progress is not None and state.running_for and 0.05 <= state.progress < 1:
        return state.running_for * (1 - state.progress) / state.progress
    if state.eta is not None and state.eta >= 0:
        return state.eta
    return None


def eta_is_consistent(state: PollState) -> bool:
    """Whether time elapsed plus the ETA matches the estimate given at submission."""
    if state.eta is None or state.elapsed is None or not state.estimated_total or state.eta < 0:
        return False
    tolerance = 0.1 * state.estimated_total + FINISH_MARGIN
    return abs(state.elapsed + state.eta - state.estimated_total) <= tolerance


def _clamp(seconds: float) -> float:
    return min(max(seconds, MIN_INTERVAL), MAX_INTERVAL)


def next_poll(state: PollState, *, fixed_interval: float | None = None, listening: bool = False) -> Poll:
    """When to poll next, and whether that poll asks for the result (``listening`` caps sleeps)."""
    if fixed_interval is not None:
        return Poll(fixed_interval, result=False)
    poll = _scheduled_poll(state)
    cap = (LISTENING_FIRST if state.polls == 0 else LISTENING_INTERVAL) if listening else None
    if cap is not None and poll.delay > cap:
        return Poll(cap, result=False)  # a progress poll on the way; the aim comes back once it is near
    return poll


def _scheduled_poll(state: PollState) -> Poll:
    remaining = remaining_estimate(state)
    if remaining is None or (state.status == "waiting" and not remaining):
        # Nothing known, or queued with no useful ETA: back off, the queue moves slowly.
        previous = state.last_interval or UNKNOWN_FIRST_INTERVAL / GROWTH
        return Poll(min(max(previous * GROWTH, UNKNOWN_FIRST_INTERVAL), MAX_INTERVAL), result=False)
    remaining = max(remaining - state.answer_age, 0.0)
    if state.polls == 0 and not state.probe_skipped:
        return Poll(_clamp(remaining * PROBE_AT), result=False)
    # Each miss of an aimed poll makes the next polls wait longer (a task stuck on its
    # last step must not be polled every MIN_INTERVAL).
    backoff = MIN_INTERVAL * GROWTH ** min(state.misses - 1, 32) if state.misses > 0 else 0.0
    if state.last_missed:
        # The aimed poll came too early: re-estimate from fresh progress, soon.
        return Poll(_clamp(backoff), result=False)
    delay = max(remaining + FINISH_MARGIN, backoff)
    if delay > MAX_INTERVAL:
        return Poll(MAX_INTERVAL, result=False)  # too far to aim at: check progress on the way
    return Poll(_clamp(delay), result=True)


class EstimateTrust:
    """Which workflows' duration estimates have proved right (TRUST_AFTER probes in a row),
    so their tasks skip the probe; a miss withdraws the trust. Races only shift it by a task."""

    _LIMIT = 1024  # workflows remembered; beyond, everything is forgotten and relearned

    def __init__(self) -> None:
        self._confirmed: dict[str, int] = {}
        self._skipped: dict[str, int] = {}

    def skips_probe(self, workflow_id: str | None) -> bool:
        if workflow_id is None or self._confirmed.get(workflow_id, 0) < TRUST_AFTER:
            return False
        skipped = self._skipped.get(workflow_id, 0) + 1
        self._skipped[workflow_id] = skipped
        return skipped % VERIFY_EVERY != 0

    def record(self, workflow_id: str | None, *, confirmed: bool) -> None:
        if workflow_id is None:
            return
        if not confirmed:
            self._confirmed.pop(workflow_id, None)
            return
        if len(self._confirmed) >= self._LIMIT and workflow_id not in self._confirmed:
            self._confirmed.clear()
            self._skipped.clear()
        self._confirmed[workflow_id] = self._confirmed.get(workflow_id, 0) + 1


def estimate_confirmed(state: PollState) -> bool:
    """Whether a probe's answer agrees with the estimate given at submission."""
    return state.status in ("waiting", "running") and eta_is_consistent(state)
