"""How long to wait before the next progress poll: a pure function of what the server said.

The server reports an estimated duration at submission and, on every progress call,
the remaining time (``etaRelative``), the progress (0..1) and the queue length. We
sleep toward the expected finish and poll just after it, so a task is usually seen
finished on the first poll after it ends. The estimate is cross-checked against the
progress rate, because a server's ETA can be wrong; while queued, we back off.

The poll aimed at the finish asks ``comfy_get_result`` directly (it reports a running
task's status too): when the aim is right, that one call both sees the task finished
and brings its output, so an early progress probe costs no extra request. When it
misses, a progress poll re-estimates before the next aimed poll.

When someone listens (an ``on_progress`` callback, the CLI's progress line), the same
schedule runs with its sleeps capped: the first poll within LISTENING_FIRST, then at
least every LISTENING_INTERVAL, so each change of status, progress or queue position is
shown within a second. The aim is kept: a cap turns a long aimed sleep into progress
polls on the way, and the poll at the finish still asks for the result.
"""

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
    """The next poll: after ``delay`` seconds, of the result (True) or the progress."""

    delay: float
    result: bool


def remaining_estimate(state: PollState) -> float | None:
    """Best guess of the seconds left, or None when nothing is known.

    Measured beats predicted: the progress rate between two polls comes first. With a
    single sighting, the server's ETA is trusted when it agrees with the server's own
    estimate at submission (its clock is consistent: a queue we did not see explains
    the rest); otherwise the progress over the time since the task was first seen
    running (which overestimates what is left when the task started unseen), and last
    the ETA alone.
    """
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
    """When to poll next, and whether that poll should ask for the result directly
    (``listening``: sleeps capped, see the module's docstring)."""
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
    """Which workflows' duration estimates have proved right, for one client.

    The probe is there because a server's estimate can be wrong. Once the probes of a
    workflow's tasks have confirmed its estimates TRUST_AFTER times in a row, its next
    tasks skip the probe and poll once, just after the expected finish: a third fewer
    requests. One task in VERIFY_EVERY still probes; a probe that disagrees, or an
    aimed poll that finds the task unfinished, withdraws the trust. Counts may race
    between threads; a lost count only delays or hastens the trust by a task.
    """

    _LIMIT = 1024  # workflows remembered; beyond, everything is forgotten and relearned

    def __init__(self) -> None:
        self._confirmed: dict[str, int] = {}
        self._skipped: dict[str, int] = {}

    def skips_probe(self, workflow_id: str | None) -> bool:
        """Whether a task of ``workflow_id`` may skip its probe now."""
        if workflow_id is None or self._confirmed.get(workflow_id, 0) < TRUST_AFTER:
            return False
        skipped = self._skipped.get(workflow_id, 0) + 1
        self._skipped[workflow_id] = skipped
        return skipped % VERIFY_EVERY != 0

    def record(self, workflow_id: str | None, *, confirmed: bool) -> None:
        """What a probe or an aimed poll of a task of ``workflow_id`` found."""
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
    """Whether a probe's answer (``state``) agrees with the estimate given at
    submission: the task is not finished yet, and elapsed time plus ETA match it."""
    return state.status in ("waiting", "running") and eta_is_consistent(state)
