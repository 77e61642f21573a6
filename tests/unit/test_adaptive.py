"""The batch's concurrency decision (AIMD), as a pure function of what it is told."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speedpix._core.adaptive import AdaptiveLimit


def test_starts_at_the_maximum_and_a_throttle_cuts_it() -> None:
    limit = AdaptiveLimit(64)
    assert limit.current == 64
    limit.on_throttle(started_at=1.0, now=2.0)
    assert limit.current == 44 and limit.lowest == 44 and limit.throttled == 1


def test_one_decrease_per_round() -> None:
    limit = AdaptiveLimit(64)
    limit.on_throttle(started_at=1.0, now=2.0)
    # Sent before the decrease, at the old concurrency: counted, not acted on.
    limit.on_throttle(started_at=1.5, now=2.1)
    assert limit.current == 44 and limit.throttled == 2
    limit.on_throttle(started_at=2.05, now=2.2)  # sent after it: the new limit is too high too
    assert limit.current == 31  # 64 * 0.7 * 0.7


def test_never_below_one() -> None:
    limit = AdaptiveLimit(4)
    for n in range(20):
        limit.on_throttle(started_at=float(n), now=float(n))
    assert limit.current == 1 and limit.lowest == 1


def test_successes_grow_it_about_one_per_round_up_to_the_maximum() -> None:
    limit = AdaptiveLimit(20)
    for n in range(5):
        limit.on_throttle(started_at=float(n), now=float(n))
    start = limit.current
    assert start == 3
    for _ in range(start):  # one round of successes at the full limit
        limit.on_success(in_flight=limit.current)
    assert limit.current == start + 1
    for _ in range(10_000):
        limit.on_success(in_flight=limit.current)
    assert limit.current == 20


def test_does_not_grow_while_not_in_full_use() -> None:
    limit = AdaptiveLimit(20)
    limit.on_throttle(started_at=0.0, now=0.0)
    before = limit.limit
    for _ in range(100):
        limit.on_success(in_flight=limit.current - 1)
    assert limit.limit == before


def test_refuses_a_maximum_below_one() -> None:
    with pytest.raises(ValueError):
        AdaptiveLimit(0)


@given(
    maximum=st.integers(1, 500),
    events=st.lists(st.tuples(st.booleans(), st.floats(0, 100), st.integers(0, 600)), max_size=300),
)
def test_always_within_one_and_the_maximum(maximum: int, events: list[tuple[bool, float, int]]) -> None:
    limit = AdaptiveLimit(maximum)
    now = 0.0
    for throttled, started, in_flight in events:
        now += 0.01
        if throttled:
            limit.on_throttle(started_at=min(started, now), now=now)
        else:
            limit.on_success(in_flight=in_flight)
        assert 1 <= limit.current <= maximum and limit.lowest <= limit.current
