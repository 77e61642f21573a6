"""Where a failed task creation stopped is a fact the creation flow reports
(``error.phase``, ``error.task_may_exist``), and the batch runner reads it: a job whose
input upload failed created no task and is submitted again on the next run, while a
job whose submission may have reached the service stays "unknown"."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from speedpix import (
    APIConnectionError,
    InvalidInputError,
    RateLimitError,
    ServerError,
    ServiceError,
    SpeedPixException,
)
from speedpix.batch import run_batch
from speedpix.testing import Emulator

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
UPLOAD_SIGN = "/scc/sp_create_temp_file_upload_sign"
UPLOAD_PUT = "/storage/upload/*"
SUBMIT = "/scc/comfy_prompt"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "input.png"
    path.write_bytes(PNG)
    return path


def create(emu: Emulator, mode: str, workflow: str, inputs: dict[str, Any], **kwargs: Any) -> SpeedPixException:
    client = emu.client(max_retries=0)
    with pytest.raises(SpeedPixException) as caught:
        if mode == "sync":
            client.predictions.create(workflow, inputs, **kwargs)
        else:
            asyncio.run(client.predictions.async_create(workflow, inputs, **kwargs))
    return caught.value


CASES: dict[str, tuple[str, str, dict[str, Any], type[SpeedPixException], str, bool]] = {
    # name: (path, fault, params, error type, phase, task may exist)
    "upload-sign 503": (UPLOAD_SIGN, "http_error", {"status": 503}, ServerError, "uploading", False),
    "upload-sign throttled": (UPLOAD_SIGN, "throttle", {}, RateLimitError, "uploading", False),
    "upload PUT dropped": (UPLOAD_PUT, "drop_before", {}, APIConnectionError, "uploading", False),
    "upload PUT 503": (UPLOAD_PUT, "http_error", {"status": 503}, SpeedPixException, "uploading", False),
    "submit answer dropped": (SUBMIT, "drop_after", {}, APIConnectionError, "submitting", True),
    "submit 503": (SUBMIT, "http_error", {"status": 503}, ServerError, "submitting", True),
    "submit answer cut short": (SUBMIT, "malformed_json", {}, SpeedPixException, "submitting", True),
    "submit throttled": (SUBMIT, "throttle", {}, RateLimitError, "submitting", False),
    "submit flow control": (SUBMIT, "flow_control", {}, RateLimitError, "submitting", False),
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", list(CASES))
def test_the_error_says_in_which_phase_creation_stopped(
    speedpix_emulator: Emulator, image: Path, mode: str, case: str
) -> None:
    emu = speedpix_emulator
    path, fault, params, kind, phase, may_exist = CASES[case]
    emu.inject(path, fault, **params)
    error = create(emu, mode, "demo-echo", {"image": image})
    assert isinstance(error, kind)
    assert (error.phase, error.task_may_exist) == (phase, may_exist)
    assert emu.stats.tasks_created == (1 if case in ("submit answer dropped", "submit answer cut short") else 0)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_refusals_and_bad_input(speedpix_emulator: Emulator, mode: str) -> None:
    refused = create(speedpix_emulator, mode, "no-such-workflow", {"prompt": "x"})
    assert isinstance(refused, ServiceError)
    assert (refused.phase, refused.task_may_exist) == ("submitting", False)
    invalid = create(speedpix_emulator, mode, "demo-txt2img", {}, alias_id="main", version_id="v1")
    assert isinstance(invalid, InvalidInputError)
    assert (invalid.phase, invalid.task_may_exist) == ("validating", False)
    assert speedpix_emulator.stats.requests_by_path[SUBMIT] == 1


def results(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {row["id"]: row for row in map(json.loads, lines)}


@pytest.mark.parametrize(
    ("path", "fault", "params"),
    [(UPLOAD_SIGN, "http_error", {"status": 503}), (UPLOAD_PUT, "drop_before", {})],
    ids=["upload-sign 503", "upload PUT dropped"],
)
def test_batch_resubmits_a_job_whose_upload_failed(
    speedpix_emulator: Emulator, image: Path, tmp_path: Path, path: str, fault: str, params: dict[str, Any]
) -> None:
    emu = speedpix_emulator
    client = emu.client(max_retries=0)
    jobs = [{"id": "echo", "workflow_id": "demo-echo", "input": {"image": str(image)}}]
    out = tmp_path / "out"
    emu.inject(path, fault, **params)
    first = run_batch(jobs, out, client=client)
    row = results(out)["echo"]
    assert (first.failed, first.unknown) == (1, 0)
    assert row["status"] == "failed" and row["task_id"] is None and "submission in doubt" not in row["error"]
    assert emu.stats.requests_by_path.get(SUBMIT, 0) == 0
    second = run_batch(jobs, out, client=client)  # no resubmit_unknown needed
    assert second.succeeded == 1 and results(out)["echo"]["status"] == "succeeded"
    assert emu.stats.tasks_created == 1


def test_batch_leaves_a_job_in_doubt_when_the_submission_may_have_arrived(
    speedpix_emulator: Emulator, tmp_path: Path
) -> None:
    emu = speedpix_emulator
    client = emu.client(max_retries=0)
    jobs = [{"id": "one", "workflow_id": "demo-txt2img", "input": {"prompt": "a", "width": 16, "height": 16}}]
    out = tmp_path / "out"
    emu.inject(SUBMIT, "drop_after")
    first = run_batch(jobs, out, client=client)
    assert first.unknown == 1 and "submission in doubt" in results(out)["one"]["error"]
    assert emu.stats.tasks_created == 1  # it did arrive
    second = run_batch(jobs, out, client=client)
    assert second.unknown == 1 and emu.stats.requests_by_path[SUBMIT] == 1  # not paid twice
    third = run_batch(jobs, out, client=client, resubmit_unknown=True)
    assert third.succeeded == 1 and emu.stats.tasks_created == 2
