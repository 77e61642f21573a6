"""The emulator's quota: submissions per second and unfinished tasks, per app key,
refused exactly as the gateways refuse them."""

from __future__ import annotations

import pytest

from speedpix import RateLimitError
from speedpix.testing import Emulator
from speedpix.testing._quota import RATE, RUNNING, Quota, QuotaGate
from speedpix.testing._tasks import TaskRecord
from speedpix.testing._workflows import WorkflowOptions

from .conftest import emulator_command, refused_emulator_command

PROMPT = {"prompt": "a cat", "width": 16, "height": 16}


def test_submissions_beyond_the_rate_get_the_gateways_throttling() -> None:
    with Emulator(max_submissions_per_second=3) as emu:
        client = emu.client(max_retries=0)
        created = [client.predictions.create("demo-txt2img", PROMPT) for _ in range(3)]  # a second's burst
        with pytest.raises(RateLimitError) as caught:
            client.predictions.create("demo-txt2img", PROMPT)
        error = caught.value
        assert (error.status_code, error.err_message) == (403, "Throttled by APP Flow Control")
        assert (error.phase, error.task_may_exist) == ("submitting", False)
        refused = emu.requests[-1]
        assert refused.path == "/scc/comfy_prompt" and refused.status == 403
        assert (emu.stats.tasks_created, emu.stats.throttled) == (3, 1)
        # Other calls are not limited.
        assert client.predictions.get(created[0].id).id == created[0].id
        emu.clock_offset += 1.0  # a second later: the bucket has refilled
        client.predictions.create("demo-txt2img", PROMPT)
        assert emu.stats.tasks_created == 4


def test_submissions_beyond_the_running_tasks_get_flow_control() -> None:
    with Emulator(max_running_tasks=2) as emu:
        emu.configure("demo-txt2img", duration=30)
        client = emu.client(max_retries=0)
        client.predictions.create("demo-txt2img", PROMPT)
        client.predictions.create("demo-txt2img", PROMPT)
        with pytest.raises(RateLimitError) as caught:
            client.predictions.create("demo-txt2img", PROMPT)
        assert caught.value.status_code == 200 and caught.value.err_code == "B_API_CauseFlowControl"
        assert caught.value.err_message is not None and caught.value.err_message.startswith("业务网关层触发限流:")
        assert emu.stats.tasks_created == 2
        emu.clock_offset += 60  # both have finished
        client.predictions.create("demo-txt2img", PROMPT)
        assert emu.stats.tasks_created == 3


def test_set_quota_and_reset() -> None:
    with Emulator() as emu:
        client = emu.client(max_retries=0)
        for _ in range(5):
            client.predictions.create("demo-txt2img", PROMPT)  # no quota by default
        emu.set_quota(max_submissions_per_second=1)
        client.predictions.create("demo-txt2img", PROMPT)
        with pytest.raises(RateLimitError):
            client.predictions.create("demo-txt2img", PROMPT)
        emu.reset()  # usage forgotten, the limit kept
        client.predictions.create("demo-txt2img", PROMPT)
        with pytest.raises(RateLimitError):
            client.predictions.create("demo-txt2img", PROMPT)
        with pytest.raises(ValueError, match="positive"):
            emu.set_quota(max_running_tasks=0)
    with pytest.raises(ValueError, match="positive"):
        Emulator(max_submissions_per_second=-1)


def _task(end_at: float) -> TaskRecord:
    return TaskRecord(
        task_id="t",
        workflow_id="w",
        version="v1",
        alias_id="main",
        inputs={},
        resource_config_id=None,
        options=WorkflowOptions(),
        created_at=0.0,
        begin_at=0.0,
        end_at=end_at,
    )


def test_quota_gate_is_per_app_key_and_refills_at_its_rate() -> None:
    gate = QuotaGate(Quota(submissions_per_second=2, running_tasks=3))
    assert [gate.admit("a", 0.0) for _ in range(3)] == [None, None, RATE]
    assert gate.admit("b", 0.0) is None  # another key has its own bucket
    assert gate.admit("a", 0.25) == RATE  # half a token
    assert gate.admit("a", 0.5) is None  # one token after 0.5 s at 2/s
    for _ in range(3):
        gate.created("b", _task(end_at=10.0))
    assert gate.admit("b", 5.0) == RUNNING
    assert gate.admit("b", 10.0) is None  # they have finished
    gate.reset()
    assert gate.admit("a", 10.0) is None


def test_emulator_command_takes_the_quota() -> None:
    from speedpix import Client

    with emulator_command("--max-submissions-per-second", "1", lines=5) as (endpoint, printed):
        assert "Quota per app key: at most 1.0 submissions/s" in printed, printed
        client = Client("test-app-key", "test-app-secret", endpoint=endpoint, max_retries=0)
        client.predictions.create("demo-txt2img", PROMPT)
        with pytest.raises(RateLimitError):
            client.predictions.create("demo-txt2img", PROMPT)
        client.close()
    bad = refused_emulator_command("--max-running-tasks", "0")
    assert bad.returncode == 2 and "running_tasks must be a positive integer" in bad.stderr
