"""``speedpix batch``: killed with SIGKILL or Ctrl-C mid-run, rerun, nothing paid twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from speedpix.batch import BatchEvent, BatchInputError, load_jobs, run_batch
from speedpix.testing import Emulator

from .conftest import emulator_env, png_size, run_cli, start_cli


def write_jobs(path: Path, count: int, workflow: str = "demo-txt2img") -> Path:
    with path.open("w") as stream:
        for n in range(count):
            job = {"id": f"job-{n:02d}", "workflow_id": workflow, "input": {"prompt": f"picture {n}", "width": 32}}
            stream.write(json.dumps(job) + "\n")
    return path


def journal_states(path: Path) -> list[tuple[str, str, str | None]]:
    """(id, state, task_id) of every job, read as another process would (WAL allows it)."""
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT id, state, task_id FROM jobs ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the table is not created yet
        return []
    finally:
        db.close()


def read_results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def stop_mid_run(proc: subprocess.Popen[str], journal: Path, emu: Emulator, total: int, sig: int) -> set[str]:
    """Send ``sig`` once some, but not all, jobs are submitted.

    The process is frozen (SIGSTOP) while its journal is inspected, and signalled only
    when no submission is in flight: a job caught between "submitting" and "submitted"
    is ambiguous by design (it becomes "unknown", tested separately), and this test is
    about the rerun never paying twice. Returns the task ids known at that moment."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the batch finished before it could be interrupted"
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            rows = journal_states(journal)
            known = {task_id for _, _, task_id in rows if task_id}
            submitting = [job for job, state, _ in rows if state == "submitting"]
            if 4 <= len(known) <= total - 4 and not submitting:
                assert emu.stats.tasks_created == len(known), "every created task is in the journal"
                os.kill(proc.pid, sig)
                return known
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("never caught the batch mid-run")


def test_sigkill_mid_run_then_rerun_submits_each_job_exactly_once(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    emu = speedpix_emulator
    emu.configure("demo-txt2img", duration=0.5)
    jobs = write_jobs(tmp_path / "jobs.jsonl", 20)
    out = tmp_path / "out"
    args = ("batch", str(jobs), "-o", str(out), "--concurrency", "4")
    proc = start_cli(*args, env=emulator_env(emu), cwd=tmp_path)
    known = stop_mid_run(proc, out / "journal.sqlite", emu, 20, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    before = journal_states(out / "journal.sqlite")
    assert sum(state == "done" for _, state, _ in before) < 20

    rerun = run_cli(*args, env=emulator_env(emu), cwd=tmp_path, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert emu.stats.tasks_created == 20
    assert len(emu.tasks) == 20
    results = read_results(out)
    assert [r["id"] for r in results] == [f"job-{n:02d}" for n in range(20)]
    assert all(r["status"] == "succeeded" and r["error"] is None for r in results), results
    task_ids = {r["task_id"] for r in results}
    assert task_ids == {task.task_id for task in emu.tasks}
    assert known <= task_ids, "jobs submitted before the kill were followed by id, not resubmitted"
    for result in results:
        (path,) = result["files"]
        assert Path(path).parent == out / result["id"]
        assert png_size(Path(path).read_bytes()) == (32, 256)
    assert "20/20 succeeded" in rerun.stderr
    assert rerun.stdout.strip() == str(out / "results.jsonl")

    # A third run has nothing left to do.
    again = run_cli(*args, env=emulator_env(emu), cwd=tmp_path)
    assert again.returncode == 0 and emu.stats.tasks_created == 20
    assert emu.stats.requests_by_path.get("/scc/comfy_prompt") == 20


def test_ctrl_c_then_rerun_resumes(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    emu = speedpix_emulator
    emu.configure("demo-txt2img", duration=0.4)
    jobs = write_jobs(tmp_path / "jobs.jsonl", 12)
    out = tmp_path / "out"
    args = ("batch", str(jobs), "-o", str(out), "--concurrency", "3")
    proc = start_cli(*args, env=emulator_env(emu), cwd=tmp_path)
    stop_mid_run(proc, out / "journal.sqlite", emu, 12, signal.SIGINT)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 130, stderr
    assert "rerun the same command to resume" in stderr and "Traceback" not in stderr
    assert f"interrupted: {emu.stats.tasks_created} jobs were submitted in this run" in stderr
    partial = read_results(out)  # written on the way out
    assert len(partial) == 12 and any(r["status"] == "incomplete" for r in partial)

    rerun = run_cli(*args, env=emulator_env(emu), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert all(r["status"] == "succeeded" for r in read_results(out))
    # Tasks running when Ctrl-C came were followed by id on the rerun, not resubmitted.
    assert emu.stats.tasks_created == 12


def test_invalid_jobs_are_refused_before_anything_is_submitted(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        '{"id": "a", "workflow_id": "demo-txt2img", "input": {"prompt": "x"}}\n'
        '{"id": "b", "input": {}}\n'
        "not json\n"
        "\n"
        '{"id": "a", "workflow_id": "demo-txt2img"}\n'
        '{"id": "../escape", "workflow_id": "demo-txt2img"}\n'
        '{"id": "c", "workflow_id": "demo-txt2img", "inputs": {}}\n'
    )
    result = run_cli("batch", str(jobs), "-o", "out", env=emulator_env(speedpix_emulator), cwd=tmp_path)
    assert result.returncode == 2
    for expected in ("line 2", "workflow_id", "line 3", "not valid JSON", "line 5", "duplicate id 'a'", "line 6"):
        assert expected in result.stderr, expected
    assert "line 7" in result.stderr and "'inputs'" in result.stderr
    assert speedpix_emulator.stats.tasks_created == 0
    assert not (tmp_path / "out").exists()


def test_failed_and_unknown_jobs_are_not_resubmitted_unless_asked(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    emu = speedpix_emulator
    emu.register("boom", lambda ctx, inputs: {}, fail=True)
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        "\n".join(
            json.dumps(job)
            for job in (
                {"id": "ok", "workflow_id": "demo-txt2img", "input": {"prompt": "a"}},
                {"id": "bad", "workflow_id": "boom", "input": {}},
                {"id": "doubt", "workflow_id": "demo-txt2img", "input": {"prompt": "c"}, "alias_id": "main"},
                {"id": "refused", "workflow_id": "no-such-workflow"},
            )
        )
        + "\n"
    )
    env = emulator_env(emu)

    def batch(*extra: str) -> dict[str, dict[str, Any]]:
        result = run_cli("batch", str(jobs), "-o", "out", *extra, env=env, cwd=tmp_path)
        assert result.returncode == 1, result.stderr  # not every job succeeded
        return {r["id"]: r for r in read_results(tmp_path / "out")}

    first = batch()
    assert {k: v["status"] for k, v in first.items()} == {
        "ok": "succeeded",
        "bad": "failed",
        "doubt": "succeeded",
        "refused": "failed",
    }
    assert first["bad"]["task_id"] and first["refused"]["task_id"] is None
    assert emu.stats.tasks_created == 3

    # Simulate a crash between "submitting" and "submitted": the task may exist.
    db = sqlite3.connect(tmp_path / "out" / "journal.sqlite")
    db.execute("UPDATE jobs SET state = 'submitting', task_id = NULL WHERE id = 'doubt'")
    db.commit()
    db.close()
    second = batch()
    assert second["doubt"]["status"] == "unknown" and "--resubmit-unknown" in second["doubt"]["error"]
    assert second["bad"]["status"] == "failed" and second["bad"]["task_id"] == first["bad"]["task_id"]
    assert second["ok"] == first["ok"]
    # The refused job created no task, so it was tried again (and refused again).
    assert emu.stats.tasks_created == 3
    assert emu.stats.requests_by_path["/scc/comfy_prompt"] == 5

    third = batch("--resubmit-unknown")
    assert third["doubt"]["status"] == "succeeded" and emu.stats.tasks_created == 4
    fourth = batch("--retry-failed")
    assert fourth["bad"]["status"] == "failed" and fourth["bad"]["task_id"] != first["bad"]["task_id"]
    assert emu.stats.tasks_created == 5


def test_changed_job_under_a_known_id_is_refused(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    client = speedpix_emulator.client()
    run_batch([{"id": "one", "workflow_id": "demo-txt2img", "input": {"prompt": "a"}}], tmp_path, client=client)
    with pytest.raises(BatchInputError, match="differs"):
        run_batch([{"id": "one", "workflow_id": "demo-txt2img", "input": {"prompt": "b"}}], tmp_path, client=client)
    assert speedpix_emulator.stats.tasks_created == 1


def test_run_batch_from_python_with_events(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    events: list[BatchEvent] = []
    lines = [json.dumps({"id": f"p{n}", "workflow_id": "demo-txt2img", "input": {"prompt": "x"}}) for n in range(5)]
    summary = run_batch(
        lines, tmp_path / "out", client=speedpix_emulator.client(), concurrency=2, on_event=events.append
    )
    assert summary.ok and summary.succeeded == 5 and summary.total == 5
    assert [e.kind for e in events].count("submitted") == 5
    assert [e.kind for e in events].count("succeeded") == 5
    assert events[-1].finished == 5 and events[-1].running == 0
    assert summary.results_path.read_text().count("\n") == 5
    with pytest.raises(BatchInputError, match="no jobs"):
        load_jobs(["", "  "])


def test_a_job_line_carries_any_request_field_of_the_spec(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "t", "workflow_id": "demo-txt2img", "input": {"prompt": "x"}, "return_temp_files": True}),
        json.dumps({"id": "v", "workflow_id": "demo-txt2img", "input": {"prompt": "y"}, "version_id": "v1"}),
    ]
    summary = run_batch(lines, tmp_path / "out", client=speedpix_emulator.client())
    assert summary.ok and summary.succeeded == 2
    sent = [json.loads(r.body) for r in speedpix_emulator.requests if r.path == "/scc/comfy_prompt"]
    by_prompt = {body["inputs"]["prompt"]: body for body in sent}
    assert by_prompt["x"]["return_temp_files"] is True and by_prompt["x"]["alias_id"] == "main"
    assert by_prompt["y"]["version_id"] == "v1" and "alias_id" not in by_prompt["y"]


def test_a_request_field_of_the_wrong_type_is_refused_before_anything_is_submitted(
    speedpix_emulator: Emulator, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"id": "ok", "workflow_id": "demo-txt2img", "input": {"prompt": "x"}}),
        json.dumps({"id": "bad", "workflow_id": "demo-txt2img", "input": {"prompt": "x"}, "randomise_seeds": "yes"}),
    ]
    with pytest.raises(BatchInputError, match=r"line 2.*randomise_seeds"):
        run_batch(lines, tmp_path / "out", client=speedpix_emulator.client())
    assert speedpix_emulator.stats.tasks_created == 0


def test_events_arrive_in_the_order_they_were_counted(speedpix_emulator: Emulator, tmp_path: Path) -> None:
    emu = speedpix_emulator
    emu.configure("demo-txt2img", duration=0.05)
    jobs = write_jobs(tmp_path / "jobs.jsonl", 40)
    events: list[BatchEvent] = []
    with emu.client() as client:
        run_batch(jobs, tmp_path / "out", client=client, concurrency=16, on_event=events.append)
        # A rerun resumes nothing here, but its "skipped" events are counted the same way.
        run_batch(jobs, tmp_path / "out", client=client, concurrency=16, on_event=events.append)
    running: set[str] = set()
    finished = 0
    for event in events[: 40 * 2]:
        if event.kind in ("submitted", "resumed"):
            running.add(event.job_id)
        elif event.kind != "skipped":
            running.discard(event.job_id)
            finished += 1
        if event.kind != "skipped":
            assert event.running == len(running), event  # the counts as of this very event
            assert event.finished == finished, event
