"""The poll schedule: sleep toward the expected finish, probe long tasks, back off while queued."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speedpix._core.polling import (
    FINISH_MARGIN,
    LISTENING_FIRST,
    LISTENING_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    PROBE_AT,
    Poll,
    PollState,
    next_poll,
    remaining_estimate,
)


def test_first_poll_is_a_progress_probe_even_for_short_tasks() -> None:
    assert next_poll(PollState(status="waiting", polls=0, eta=0.3)) == Poll(pytest.approx(0.3 * PROBE_AT), result=False)


def test_after_the_probe_the_result_is_asked_for_just_after_the_expected_finish() -> None:
    # Probed at 0.18 s: 60 % done, so 0.12 s left.
    state = PollState(status="running", polls=1, eta=0.12, progress=0.6, running_for=0.18)
    assert next_poll(state) == Poll(pytest.approx(0.12 + FINISH_MARGIN), result=True)


def test_a_missed_aimed_poll_is_followed_by_a_progress_poll_then_backs_off() -> None:
    state = PollState(status="running", polls=2, eta=0.0, progress=0.99, running_for=1.0, misses=1, last_missed=True)
    assert next_poll(state) == Poll(MIN_INTERVAL, result=False)
    later = PollState(status="running", polls=9, eta=0.0, progress=0.99, running_for=1.0, misses=4)
    assert next_poll(later).delay > MIN_INTERVAL * 3


def test_long_task_gets_an_early_probe() -> None:
    assert next_poll(PollState(status="running", polls=0, eta=2.5)).delay == pytest.approx(2.5 * PROBE_AT)


def test_progress_rate_beats_a_wrong_eta() -> None:
    # Running for 1.5 s at 60 %: 1.0 s left, whatever the server's ETA claims.
    state = PollState(status="running", polls=1, eta=5.0, progress=0.6, running_for=1.5)
    assert remaining_estimate(state) == pytest.approx(1.0)
    assert next_poll(state).delay == pytest.approx(1.0 + FINISH_MARGIN)


def test_fixed_interval_wins() -> None:
    assert next_poll(PollState(status="running", polls=3, eta=0.1), fixed_interval=2.0).delay == 2.0


def test_queued_without_eta_backs_off_up_to_the_cap() -> None:
    delays = []
    last = None
    for polls in range(12):
        last = next_poll(PollState(status="waiting", polls=polls, eta=0, last_interval=last)).delay
        delays.append(last)
    assert delays == sorted(delays)
    assert delays[-1] == MAX_INTERVAL


@given(
    status=st.sampled_from(["waiting", "running", "weird"]),
    polls=st.integers(0, 100),
    eta=st.none() | st.floats(0, 1e6),
    progress=st.none() | st.floats(0, 1),
    running_for=st.none() | st.floats(0, 1e5),
    last=st.none() | st.floats(0.01, 100),
)
def test_delay_is_always_within_bounds(
    status: str, polls: int, eta: float | None, progress: float | None, running_for: float | None, last: float | None
) -> None:
    delay = next_poll(
        PollState(status=status, polls=polls, eta=eta, progress=progress, running_for=running_for, last_interval=last)
    ).delay
    assert MIN_INTERVAL <= delay <= MAX_INTERVAL


def test_a_measured_progress_rate_beats_the_time_since_start() -> None:
    # 20 % done, but moving at 50 % per second: 1.6 s left, not what running_for suggests.
    state = PollState(status="running", polls=2, eta=9.0, progress=0.2, running_for=4.0, progress_rate=0.5)
    assert remaining_estimate(state) == pytest.approx(1.6)


def test_a_self_consistent_eta_explains_an_unseen_queue() -> None:
    # Submitted with a 2.0 s estimate; 1.2 s later the task is 47 % done with 0.8 s to go.
    # Elapsed + ETA = the estimate: the server is consistent, the task sat in a queue we
    # did not see, and the progress over 1.2 s would say 1.35 s — too late.
    state = PollState(
        status="running", polls=1, eta=0.8, progress=0.47, running_for=1.2, elapsed=1.2, estimated_total=2.0
    )
    assert remaining_estimate(state) == pytest.approx(0.8)


def test_an_inconsistent_eta_loses_to_the_progress() -> None:
    # The server said 0.625 s at submission, then 0.35 s left at 0.75 s: it misreports.
    state = PollState(
        status="running", polls=1, eta=0.35, progress=0.6, running_for=0.75, elapsed=0.75, estimated_total=0.625
    )
    assert remaining_estimate(state) == pytest.approx(0.5)


def test_estimates_count_from_when_the_server_answered() -> None:
    """An answer that took 40 ms to arrive leaves 40 ms less to wait than its ETA says."""
    fresh = PollState(status="running", polls=1, eta=0.3, progress=0.7, running_for=0.7)
    aged = PollState(status="running", polls=1, eta=0.3, progress=0.7, running_for=0.7, answer_age=0.04)
    assert next_poll(fresh) == Poll(pytest.approx(0.3 + FINISH_MARGIN), result=True)
    assert next_poll(aged) == Poll(pytest.approx(0.26 + FINISH_MARGIN), result=True)
    # The probe of a just-submitted task is shortened the same way.
    probe = PollState(status="waiting", polls=0, eta=1.0, answer_age=0.1)
    assert next_poll(probe).delay == pytest.approx(0.9 * PROBE_AT)


@given(
    status=st.sampled_from(["waiting", "running", "weird"]),
    polls=st.integers(0, 100),
    eta=st.none() | st.floats(0, 1e6),
    progress=st.none() | st.floats(0, 1),
    running_for=st.none() | st.floats(0, 1e5),
    last=st.none() | st.floats(0.01, 100),
    misses=st.integers(0, 40),
)
def test_a_listener_is_shown_every_change_within_a_second(
    status: str,
    polls: int,
    eta: float | None,
    progress: float | None,
    running_for: float | None,
    last: float | None,
    misses: int,
) -> None:
    state = PollState(
        status=status,
        polls=polls,
        eta=eta,
        progress=progress,
        running_for=running_for,
        last_interval=last,
        misses=misses,
    )
    alone, listened = next_poll(state), next_poll(state, listening=True)
    cap = LISTENING_FIRST if polls == 0 else LISTENING_INTERVAL
    assert MIN_INTERVAL <= listened.delay <= cap
    if alone.delay <= cap:
        assert listened == alone  # the schedule is the same, only capped
    else:
        assert listened == Poll(cap, result=False)  # a progress poll on the way to the aim


def test_a_listened_long_task_is_still_aimed_at_its_finish() -> None:
    # 3.2 s left: progress polls a second apart, then the result just after the finish.
    far = PollState(status="running", polls=3, eta=3.2, progress=0.5, running_for=3.2, progress_rate=0.5 / 3.2)
    assert next_poll(far, listening=True) == Poll(LISTENING_INTERVAL, result=False)
    near = PollState(status="running", polls=6, eta=0.4, progress=0.94, running_for=6.0, progress_rate=0.15)
    assert next_poll(near, listening=True) == next_poll(near)
    assert next_poll(near, listening=True).result


def test_a_fixed_interval_is_kept_with_a_listener() -> None:
    assert next_poll(PollState(status="running", polls=3), fixed_interval=4.0, listening=True) == Poll(4.0, False)
