"""Tasks of a workflow whose estimates have proved right skip the early progress probe.

Against the emulator: the API requests that name each task, counted per task, and how
late each run returns after its task's scheduled end.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from speedpix import Client
from speedpix._core.polling import TRUST_AFTER, VERIFY_EVERY, EstimateTrust, PollState, estimate_confirmed, next_poll
from speedpix.testing import Emulator

TASK_PATHS = ("/scc/comfy_get_progress", "/scc/comfy_get_result")


@pytest.fixture
def emu(speedpix_emulator_session: Emulator) -> Emulator:
    return speedpix_emulator_session  # the plugin's shared emulator, reset for this test


@pytest.fixture
def client(emu: Emulator) -> Iterator[Client]:
    with emu.client() as c:
        yield c


def polls_per_task(emu: Emulator) -> list[int]:
    """Progress and result calls per task, in the order the tasks were submitted."""
    counts = Counter(json.loads(r.body)["taskId"] for r in emu.requests if r.path in TASK_PATHS)
    return [counts[task.task_id] for task in sorted(emu.tasks, key=lambda t: t.created_at)]


def lag_of_last(emu: Emulator, returned_at: float) -> float:
    last = max(emu.tasks, key=lambda t: t.created_at)
    return returned_at - last.end_ms / 1000


# ---------------------------------------------------------------- the rules


def test_trust_comes_after_enough_confirmations_and_one_in_verify_every_still_probes() -> None:
    trust = EstimateTrust()
    for _ in range(TRUST_AFTER - 1):
        trust.record("w", confirmed=True)
    assert not trust.skips_probe("w")
    trust.record("w", confirmed=True)
    decisions = [trust.skips_probe("w") for _ in range(2 * VERIFY_EVERY)]
    assert decisions.count(False) == 2  # the verifying probes
    assert not trust.skips_probe(None) and not trust.skips_probe("other")


def test_one_disagreement_withdraws_the_trust() -> None:
    trust = EstimateTrust()
    for _ in range(TRUST_AFTER):
        trust.record("w", confirmed=True)
    trust.record("w", confirmed=False)
    assert not any(trust.skips_probe("w") for _ in range(VERIFY_EVERY))


def test_a_skipped_probe_aims_at_the_finish_from_the_estimate() -> None:
    state = PollState(status="waiting", polls=0, eta=3.0, elapsed=0.0, estimated_total=3.0, answer_age=1.0)
    assert next_poll(state).result is False  # the probe
    aimed = next_poll(PollState(**{**state.__dict__, "probe_skipped": True}))
    assert aimed.result is True and aimed.delay == pytest.approx(2.0 + 0.02)


def test_what_confirms_an_estimate() -> None:
    assert estimate_confirmed(PollState(status="running", polls=1, eta=1.2, elapsed=1.8, estimated_total=3.0))
    assert not estimate_confirmed(PollState(status="running", polls=1, eta=2.7, elapsed=1.8, estimated_total=3.0))
    assert not estimate_confirmed(PollState(status="succeeded", polls=1, eta=0.0, elapsed=1.8, estimated_total=3.0))


# ---------------------------------------------------------------- against the emulator


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_exact_estimates_earn_trust_and_a_single_poll_per_task(mode: str, client: Client, emu: Emulator) -> None:
    emu.register("exact", lambda ctx, inputs: {"text": "ok"}, duration=0.3)
    runs = TRUST_AFTER + VERIFY_EVERY
    for i in range(runs):
        if mode == "sync":
            client.run("exact", {"prompt": str(i)})
        else:
            asyncio.run(client.async_run("exact", {"prompt": str(i)}))
        returned = time.time()
    polls = polls_per_task(emu)
    assert polls[:TRUST_AFTER] == [2] * TRUST_AFTER  # probe, then the result aimed at the finish
    after = polls[TRUST_AFTER:]
    assert after.count(1) == VERIFY_EVERY - 1 and after.count(2) == 1  # one verifying probe
    assert lag_of_last(emu, returned) < 0.25


def test_estimates_reported_too_long_are_never_trusted(client: Client, emu: Emulator) -> None:
    # The server says 50 % longer than the task takes: without the probe, every run would
    # return half a duration late.
    emu.register("too-long", lambda ctx, inputs: {"text": "ok"}, duration=0.4, eta_error=0.5)
    for i in range(TRUST_AFTER + 3):
        client.run("too-long", {"prompt": str(i)})
        returned = time.time()
        assert lag_of_last(emu, returned) < 0.15
    assert all(count >= 2 for count in polls_per_task(emu))  # every task probed


def test_an_aimed_poll_that_comes_early_withdraws_the_trust(client: Client, emu: Emulator) -> None:
    emu.register("drifts", lambda ctx, inputs: {"text": "ok"}, duration=0.3)
    for i in range(TRUST_AFTER):
        client.run("drifts", {"prompt": str(i)})
    emu.register("drifts", lambda ctx, inputs: {"text": "ok"}, duration=0.3, eta_error=-0.5)  # now too short
    client.run("drifts", {"prompt": "late"})  # skips the probe, its aimed poll misses
    client.run("drifts", {"prompt": "after"})
    polls = polls_per_task(emu)
    assert polls[TRUST_AFTER] >= 2  # the aimed poll came early and polled again
    assert polls[TRUST_AFTER + 1] >= 2  # no trust any more: it probed
