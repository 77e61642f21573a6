"""The batch runner finds the account's quota: throttled, it lowers its concurrency
instead of failing jobs, and still submits each job exactly once."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import pytest

from speedpix import RateLimitError
from speedpix.batch import BatchEvent, run_batch
from speedpix.testing import Emulator

from ._jobs import ECHO, echo_workflow


def jobs(count: int) -> list[dict[str, object]]:
    return [{"id": f"job-{n:02d}", "workflow_id": ECHO, "input": {"prompt": f"p{n}"}} for n in range(count)]


def submitted_once(emu: Emulator, count: int) -> bool:
    return Counter(task.inputs["prompt"] for task in emu.tasks) == Counter(f"p{n}" for n in range(count))


def test_a_batch_over_the_submission_rate_lowers_its_concurrency(tmp_path: Path) -> None:
    events: list[BatchEvent] = []
    with Emulator(max_submissions_per_second=20) as emu:
        emu.register(ECHO, echo_workflow, duration=0.05)
        summary = run_batch(jobs(40), tmp_path, client=emu.client(), concurrency=16, on_event=events.append)
        assert (summary.succeeded, summary.failed, summary.unknown) == (40, 0, 0)
        assert submitted_once(emu, 40) and emu.stats.tasks_created == 40
        # Every refusal reached the batch at once (no client retries hid it)...
        assert summary.throttled == emu.stats.throttled > 0
        # ...and lowered the concurrency.
        assert summary.lowest_concurrency < summary.max_concurrency == 16
    lowered = [event for event in events if event.concurrency < event.max_concurrency]
    assert lowered and "concurrency" in lowered[0].describe() and "/16" in lowered[0].describe()
    assert f"throttled {summary.throttled}x" in summary.count_line()
    assert summary.to_dict()["lowest_concurrency"] == summary.lowest_concurrency


def test_a_batch_over_the_running_tasks_limit_adapts_too(tmp_path: Path) -> None:
    with Emulator(max_running_tasks=3) as emu:
        emu.register(ECHO, echo_workflow, duration=0.2)
        summary = run_batch(jobs(12), tmp_path, client=emu.client(), concurrency=8)
        assert (summary.succeeded, summary.failed) == (12, 0)
        assert submitted_once(emu, 12)
        assert summary.throttled == emu.stats.throttled > 0 and summary.lowest_concurrency < 8


def test_an_unthrottled_batch_keeps_its_concurrency(tmp_path: Path) -> None:
    with Emulator() as emu:
        emu.register(ECHO, echo_workflow, duration=0.05)
        summary = run_batch(jobs(8), tmp_path, client=emu.client(), concurrency=4)
    assert (summary.succeeded, summary.throttled) == (8, 0)
    assert summary.concurrency == summary.lowest_concurrency == 4
    assert "concurrency 4; results in" in summary.count_line()


def test_a_job_throttled_without_end_fails_with_no_task_and_is_submitted_next_run(tmp_path: Path) -> None:
    with Emulator() as emu:
        emu.register(ECHO, echo_workflow)
        # Retry-After: 0 keeps the eleven waits short; the twelfth submission goes through.
        emu.inject("/scc/comfy_prompt", "throttle", count=11, retry_after=0)
        first = run_batch(jobs(1), tmp_path, client=emu.client(), concurrency=1)
        assert first.failed == 1 and first.results[0].task_id is None
        assert "throttled 11 times" in (first.results[0].error or "")
        assert emu.stats.tasks_created == 0
        second = run_batch(jobs(1), tmp_path, client=emu.client(), concurrency=1)
        assert second.succeeded == 1 and emu.stats.tasks_created == 1


def test_retry_throttled_false_raises_at_once_and_survives_pickling() -> None:
    with Emulator() as emu:
        client = emu.client()
        emu.inject("/scc/comfy_prompt", "throttle", count=1, retry_after=0)
        client.predictions.create("demo-txt2img", {"prompt": "x"})  # retried by default
        assert emu.stats.requests_by_path["/scc/comfy_prompt"] == 2
        pacing = pickle.loads(pickle.dumps(client.with_options(retry_throttled=False)))
        emu.inject("/scc/comfy_prompt", "throttle", count=1, retry_after=0)
        with pytest.raises(RateLimitError):
            pacing.predictions.create("demo-txt2img", {"prompt": "x"})
        assert emu.stats.requests_by_path["/scc/comfy_prompt"] == 3
        # Other errors are still retried.
        emu.inject("/scc/comfy_get_progress", "http_error", count=1, status=503, retry_after=0)
        assert pacing.with_options(retry_delay=0.01).predictions.get(emu.tasks[0].task_id).id == emu.tasks[0].task_id
