"""The task API: submission, the simulated lifecycle, results and failures."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from speedpix.testing import Emulator, TaskFailed, WorkflowContext

from .conftest import post, progress, result, submit, wait_done


def echo_inputs(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"echo": inputs, "version": ctx.version}


def test_submit_returns_a_waiting_task_with_an_estimate(emu: Emulator, http: httpx.Client) -> None:
    emu.register("flow", echo_inputs, duration=0.4, queue_time=0.2)
    envelope = post(http, emu, "/scc/comfy_prompt", {"workflow_id": "flow", "alias_id": "main", "inputs": {}}).json()
    assert envelope["status"] == 10
    data = envelope["data"]
    assert data["status"] == "waiting"
    assert len(data["taskId"]) == 26
    assert data["estimatedDurationInSeconds"] == pytest.approx(0.6, abs=0.01)
    assert emu.stats.tasks_created == 1


def test_lifecycle_waiting_running_succeeded(emu: Emulator, http: httpx.Client) -> None:
    emu.register("flow", echo_inputs, duration=0.4, queue_time=0.25)
    task_id = submit(http, emu, "flow", {"x": 1})

    waiting = progress(http, emu, task_id)
    assert waiting["status"] == "waiting"
    assert waiting["progress"] == 0
    assert waiting["lastQueueRemaining"] == 0
    assert 0.4 < waiting["etaRelative"] <= 0.65
    assert waiting["state"] is None

    time.sleep(0.45)  # 0.2 s into the 0.4 s run
    running = progress(http, emu, task_id)
    assert running["status"] == "running"
    assert 0.2 < running["progress"] < 0.95
    assert 0 < running["etaRelative"] < 0.35
    state = running["state"]
    assert state["nodeLabel"] and 0 <= state["step"] <= state["maxSteps"] == 20
    not_yet = result(http, emu, task_id)
    assert not_yet["status"] == 10 and not_yet["data"]["status"] == "running"
    assert not_yet["data"]["result"] is None

    done = wait_done(http, emu, task_id)
    assert done["status"] == "succeeded"
    assert done["progress"] == 1 and done["etaRelative"] == 0
    envelope = result(http, emu, task_id)
    assert envelope["status"] == 10
    data = envelope["data"]
    assert data["status"] == "succeeded"
    assert data["result"] == {"echo": {"x": 1}, "version": "v1"}
    assert data["taskDuration"] == data["taskEndTime"] - data["taskBeginTime"] == 400
    task = emu.tasks[0]
    assert data["taskBeginTime"] == task.begin_ms == task.created_ms + 250
    assert task.status == "succeeded"


def test_progress_grows_and_eta_shrinks(emu: Emulator, http: httpx.Client) -> None:
    emu.register("flow", echo_inputs, duration=0.5)
    task_id = submit(http, emu, "flow", {})
    seen = []
    for _ in range(4):
        data = progress(http, emu, task_id)
        seen.append((data["progress"], data["etaRelative"]))
        time.sleep(0.1)
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    assert [e for _, e in seen] == sorted((e for _, e in seen), reverse=True)


def test_last_queue_remaining_counts_the_tasks_still_waiting_ahead(emu: Emulator, http: httpx.Client) -> None:
    emu.register("serial", echo_inputs, duration=0.3, max_concurrency=1)
    ids = [submit(http, emu, "serial", {"n": n}) for n in range(3)]
    first, second, third = (progress(http, emu, task_id) for task_id in ids)
    assert first["status"] == "running"
    assert second["status"] == third["status"] == "waiting"
    assert second["lastQueueRemaining"] == 0
    assert third["lastQueueRemaining"] == 1
    assert third["etaRelative"] > second["etaRelative"] > first["etaRelative"]
    begins = [task.begin_ms for task in emu.tasks]
    assert begins[1] - begins[0] == pytest.approx(300, abs=2)
    assert begins[2] - begins[1] == pytest.approx(300, abs=2)


@pytest.mark.parametrize(("eta_error", "factor"), [(0.5, 1.5), (-0.5, 0.5)])
def test_eta_error_misreports_estimates(emu: Emulator, http: httpx.Client, eta_error: float, factor: float) -> None:
    emu.register("flow", echo_inputs, duration=2.0, eta_error=eta_error)
    envelope = post(http, emu, "/scc/comfy_prompt", {"workflow_id": "flow", "inputs": {}}).json()
    assert envelope["data"]["estimatedDurationInSeconds"] == pytest.approx(2.0 * factor)
    data = progress(http, emu, envelope["data"]["taskId"])
    assert data["etaRelative"] == pytest.approx(2.0 * factor, rel=0.1)


def test_a_failed_task_reports_status_20_on_get_result(emu: Emulator, http: httpx.Client) -> None:
    emu.register("flow", echo_inputs, duration=0.01, fail=True)
    task_id = submit(http, emu, "flow", {})
    assert wait_done(http, emu, task_id)["status"] == "failed"
    envelope = result(http, emu, task_id)
    assert envelope["status"] == 20
    assert envelope["errCode"] == "B_API_ServiceError"
    assert envelope["subErrCode"] == "TaskFailed"
    assert "configured to fail" in envelope["subErrMessage"]
    assert envelope["data"]["status"] == "failed"
    assert emu.tasks[0].error == envelope["subErrMessage"]


def test_failure_by_input_and_by_exception(emu: Emulator, http: httpx.Client) -> None:
    def picky(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
        if inputs.get("boom"):
            raise ValueError("kaboom")
        if inputs.get("refuse"):
            raise TaskFailed("I refuse")
        return {"ok": True}

    emu.register("flow", picky, duration=0, fail=lambda inputs: "bad input" if inputs.get("bad") else None)
    outcomes = {}
    for name in ("bad", "boom", "refuse", "fine"):
        task_id = submit(http, emu, "flow", {name: True})
        wait_done(http, emu, task_id)
        outcomes[name] = result(http, emu, task_id)
    assert outcomes["bad"]["subErrMessage"] == "bad input"
    assert outcomes["boom"]["subErrMessage"] == "ValueError: kaboom"
    assert outcomes["refuse"]["subErrMessage"] == "I refuse"
    assert outcomes["fine"]["status"] == 10
    assert outcomes["fine"]["data"]["result"] == {"ok": True}


def test_configure_changes_options_for_new_tasks(emu: Emulator, http: httpx.Client) -> None:
    emu.register("flow", echo_inputs, duration=5)
    emu.configure("flow", duration=0, fail=True)
    task_id = submit(http, emu, "flow", {})
    assert wait_done(http, emu, task_id)["status"] == "failed"
    with pytest.raises(KeyError):
        emu.configure("unknown", duration=1)
    with pytest.raises(TypeError, match="durations"):
        emu.configure("flow", durations=1)


def test_workflows_resolve_by_alias_and_version(emu: Emulator, http: httpx.Client) -> None:
    emu.register("flow", echo_inputs, versions=("v1", "v2", "v3"), aliases={"main": "v2", "beta": "v3"})
    by_default = submit(http, emu, "flow", {})
    by_alias = submit(http, emu, "flow", {}, alias_id="beta")
    by_version = submit(http, emu, "flow", {}, version_id="v1")
    both = submit(http, emu, "flow", {}, alias_id="beta", version_id="v1")  # version wins
    versions = {task.task_id: task.version for task in emu.tasks}
    assert [versions[t] for t in (by_default, by_alias, by_version, both)] == ["v2", "v3", "v1", "v1"]
    assert wait_done(http, emu, by_alias)["status"] == "succeeded"
    assert result(http, emu, by_alias)["data"]["result"]["version"] == "v3"


@pytest.mark.parametrize(
    ("body", "sub_err_code", "fragment"),
    [
        ({"workflow_id": "nope", "inputs": {}}, "WorkflowNotFound", "'nope'"),
        ({"workflow_id": "demo-txt2img", "alias_id": "prod", "inputs": {}}, "AliasNotFound", "'prod'"),
        ({"workflow_id": "demo-txt2img", "version_id": "v9", "inputs": {}}, "VersionNotFound", "'v9'"),
        ({"inputs": {}}, "InvalidParameter", "workflow_id"),
        ({"workflow_id": "demo-txt2img"}, "InvalidParameter", "inputs"),
        ({"workflow_id": "demo-txt2img", "inputs": []}, "InvalidParameter", "inputs"),
        ({"workflow_id": "demo-txt2img", "inputs": {}, "alias_id": 3}, "InvalidParameter", "alias_id"),
        ({"workflow_id": "demo-txt2img", "inputs": {}, "randomise_seeds": "y"}, "InvalidParameter", "randomise_seeds"),
        ([1, 2], "InvalidParameter", "JSON object"),
    ],
)
def test_bad_submissions_are_application_errors(
    emu: Emulator, http: httpx.Client, body: Any, sub_err_code: str, fragment: str
) -> None:
    response = post(http, emu, "/scc/comfy_prompt", body)
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status"] == 20
    assert envelope["errCode"] == "B_API_ServiceError"
    assert envelope["subErrCode"] == sub_err_code
    assert fragment in envelope["subErrMessage"]
    assert envelope["data"] is None
    assert emu.stats.tasks_created == 0


def test_malformed_json_body_is_invalid_parameter(emu: Emulator, http: httpx.Client) -> None:
    envelope = post(http, emu, "/scc/comfy_get_progress", b"{not json").json()
    assert (envelope["status"], envelope["subErrCode"]) == (20, "InvalidParameter")


@pytest.mark.parametrize("path", ["/scc/comfy_get_progress", "/scc/comfy_get_result"])
def test_unknown_task_ids(emu: Emulator, http: httpx.Client, path: str) -> None:
    envelope = post(http, emu, path, {"taskId": "01j5ssksqndptm3exv751bz0gj"}).json()
    assert (envelope["status"], envelope["subErrCode"]) == (20, "TaskNotFound")
    missing = post(http, emu, path, {}).json()
    assert (missing["status"], missing["subErrCode"]) == (20, "InvalidParameter")


def test_resource_config_id_is_recorded(emu: Emulator, http: httpx.Client) -> None:
    body = {"workflow_id": "demo-txt2img", "inputs": {"prompt": "x"}}
    post(http, emu, "/scc/comfy_prompt", body, headers={"X-SP-RESOURCE-CONFIG-ID": "a,b,default"})
    post(http, emu, "/scc/comfy_prompt", body)
    assert [task.resource_config_id for task in emu.tasks] == ["a,b,default", None]
    assert emu.tasks[0].inputs == {"prompt": "x"}
    assert emu.tasks[0].alias_id == "main"


def test_a_jump_of_the_clock_finishes_tasks(emu: Emulator, http: httpx.Client) -> None:
    emu.register("flow", echo_inputs, duration=600)
    task_id = submit(http, emu, "flow", {"a": 1})
    assert progress(http, emu, task_id)["status"] == "running"
    emu.clock_offset = 601
    # The signature timestamp would be 10 minutes early; still inside the window.
    assert progress(http, emu, task_id)["status"] == "succeeded"
