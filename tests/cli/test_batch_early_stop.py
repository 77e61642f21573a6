"""``speedpix batch --max-failures``: stop submitting after N (or P%) failures, follow what
was submitted, resume on a rerun; failures counted by kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from speedpix.batch import run_batch
from speedpix.batch._results import failure_kind, task_failure_kind
from speedpix.batch._runner import FailureLimit
from speedpix.errors import (
    APIConnectionError,
    ContentModerationError,
    FileTransferError,
    InvalidInputError,
    ServerError,
    ServiceError,
)
from speedpix.testing import Emulator, TaskFailed

from .conftest import emulator_env, run_cli


def always_fails(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    raise TaskFailed(f"refused to draw {inputs.get('prompt')!r}")


def write_jobs(path: Path, count: int, workflow: str) -> Path:
    lines = [
        json.dumps({"id": f"j{n:03d}", "workflow_id": workflow, "input": {"prompt": f"p{n}"}}) for n in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_results(out: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}


def test_max_failures_stops_submitting_and_a_rerun_resumes(emu: Emulator, tmp_path: Path) -> None:
    emu.register("always-fails", always_fails, duration=0.05)
    jobs = write_jobs(tmp_path / "jobs.jsonl", 40, "always-fails")
    args = ("batch", str(jobs), "-o", "out", "--concurrency", "2", "--max-failures", "3", "--json")
    first = run_cli(*args, env=emulator_env(emu), cwd=tmp_path)
    assert first.returncode == 5, first.stderr  # stopped early
    created = emu.stats.tasks_created
    assert 3 <= created <= 3 + 2, created  # the limit, plus what was in flight
    summary = json.loads(first.stdout)
    assert summary["stopped_early"] is True and "3 jobs failed" in summary["stop_reason"]
    assert summary["failed"] == created and summary["failed_by_kind"] == {"task_failed": created}
    assert summary["incomplete"] == 40 - created
    assert f"{created} task failed" in first.stderr and "stopped early" in first.stderr
    results = read_results(tmp_path / "out")
    failed = {k: r for k, r in results.items() if r["status"] == "failed"}
    assert len(failed) == created
    assert all(r["failure_kind"] == "task_failed" and "refused to draw" in r["error"] for r in failed.values())
    held = [r for r in results.values() if r["status"] == "incomplete"]
    assert all("stopped early" in r["error"] and r["task_id"] is None for r in held)
    assert all("failure_kind" not in r for r in held)

    # The rerun submits only jobs never submitted (the failed ones stay failed), and stops again.
    second = run_cli(*args, env=emulator_env(emu), cwd=tmp_path)
    assert second.returncode == 5, second.stderr
    more = emu.stats.tasks_created - created
    assert 3 <= more <= 5
    again = read_results(tmp_path / "out")
    assert all(again[k]["task_id"] == r["task_id"] for k, r in failed.items())
    assert sum(r["status"] == "failed" for r in again.values()) == created + more
    assert len({task.task_id for task in emu.tasks}) == emu.stats.tasks_created


def test_without_a_limit_every_job_runs(emu: Emulator, tmp_path: Path) -> None:
    emu.register("always-fails", always_fails, duration=0.01)
    summary = run_batch(
        write_jobs(tmp_path / "jobs.jsonl", 12, "always-fails"), tmp_path / "out", client=emu.client(), concurrency=4
    )
    assert summary.failed == 12 and not summary.stopped_early and summary.stop_reason is None


def test_a_percentage_counts_once_enough_jobs_finished(emu: Emulator, tmp_path: Path) -> None:
    # Every third job fails: 33% > 10%, but nothing is decided before 10 jobs finished.
    emu.register(
        "some-fail",
        lambda ctx, inputs: {"text": inputs["prompt"]},
        duration=0.01,
        fail=lambda inputs: "unlucky" if int(inputs["prompt"][1:]) % 3 == 0 else None,
    )
    jobs = write_jobs(tmp_path / "jobs.jsonl", 40, "some-fail")
    with emu.client() as client:
        summary = run_batch(jobs, tmp_path / "out", client=client, concurrency=1, max_failures="10%")
    assert summary.stopped_early and "10%" in (summary.stop_reason or "")
    assert emu.stats.tasks_created == 10  # one at a time: decided at the 10th finished job
    assert summary.failed == 4 and summary.succeeded == 6 and summary.incomplete == 30
    assert summary.to_dict()["failed_by_kind"] == {"task_failed": 4}

    # 50% is not reached by 4 of 10 failed: the rerun runs everything left.
    with emu.client() as client:
        rerun = run_batch(jobs, tmp_path / "out", client=client, concurrency=1, max_failures="50%")
    assert not rerun.stopped_early and rerun.incomplete == 0 and emu.stats.tasks_created == 40


def test_failure_limit_rules() -> None:
    assert FailureLimit.parse(None) is None
    assert FailureLimit.parse(3) == FailureLimit(count=3) == FailureLimit.parse("3")
    assert FailureLimit.parse("10%") == FailureLimit(ratio=0.1)
    assert FailureLimit(ratio=0.1).min_finished == 10
    assert FailureLimit(ratio=0.5).min_finished == 10
    assert FailureLimit(ratio=0.01).min_finished == 100  # one failure in fewer would be over 1%
    assert FailureLimit(ratio=0.1).reached(1, 9) is None
    assert FailureLimit(ratio=0.1).reached(1, 10) is not None
    assert FailureLimit(ratio=0.5).reached(4, 10) is None
    assert FailureLimit(count=2).reached(1, 50) is None and FailureLimit(count=2).reached(2, 2)
    for bad in (0, -1, True, "0%", "101%", "x%", "many", 2.5):
        with pytest.raises(InvalidInputError):
            FailureLimit.parse(bad)  # type: ignore[arg-type]


def test_bad_max_failures_on_the_command_line(emu: Emulator, tmp_path: Path) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", 1, "demo-txt2img")
    for bad in ("0", "x", "0%", "150%"):
        result = run_cli("batch", str(jobs), "-o", "out", "--max-failures", bad, env=emulator_env(emu), cwd=tmp_path)
        assert result.returncode == 2 and "--max-failures" in result.stderr, result.stderr
    assert emu.stats.tasks_created == 0


def test_failure_kinds_of_errors() -> None:
    moderation = ContentModerationError("audit", status_code=200, err_code="B_API_AuditFailed")
    assert failure_kind(moderation) == "content_moderation"
    assert task_failure_kind("B_API_AuditFailed") == "content_moderation"
    assert task_failure_kind("TaskFailed") == task_failure_kind(None) == "task_failed"
    assert failure_kind(InvalidInputError("bad")) == "invalid_input"
    assert failure_kind(ServiceError("no", sub_err_code="WorkflowNotFound")) == "invalid_input"
    assert failure_kind(APIConnectionError("down")) == "unreachable"
    assert failure_kind(FileTransferError("upload failed")) == "unreachable"
    assert failure_kind(ServerError("503", status_code=503)) == "unreachable"
    assert failure_kind(RuntimeError("?")) == "other"


def test_kinds_are_counted_end_to_end(emu: Emulator, tmp_path: Path) -> None:
    emu.register("always-fails", always_fails, duration=0.01)
    (tmp_path / "in.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    emu.inject("/storage/upload/*", "http_error", count=50, status=503)
    jobs = [
        {"id": "ok", "workflow_id": "demo-txt2img", "input": {"prompt": "fine"}},
        {"id": "task", "workflow_id": "always-fails", "input": {"prompt": "x"}},
        {"id": "typo", "workflow_id": "no-such-workflow", "input": {"prompt": "x"}},
        {"id": "upload", "workflow_id": "demo-echo", "input": {"image": {"$file": str(tmp_path / "in.png")}}},
    ]
    with emu.client(max_retries=1) as client:
        summary = run_batch(jobs, tmp_path / "out", client=client, concurrency=2)
    kinds = {r.id: r.failure_kind for r in summary.results}
    assert kinds == {"ok": None, "task": "task_failed", "typo": "invalid_input", "upload": "unreachable"}
    assert summary.failed_by_kind == {"invalid_input": 1, "task_failed": 1, "unreachable": 1}
    line = summary.count_line()
    assert "1 refused as bad input, 1 task failed, 1 could not be reached" in line
    results = read_results(tmp_path / "out")
    assert results["typo"]["failure_kind"] == "invalid_input" and "failure_kind" not in results["ok"]
