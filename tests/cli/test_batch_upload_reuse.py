"""A batch rerun reuses the uploads its journal recorded while they stay valid."""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from speedpix._core.reuse import REUSE_MARGIN
from speedpix.batch import run_batch
from speedpix.testing import Emulator

from .conftest import emulator_env, run_cli, start_cli
from .test_batch import stop_mid_run

SIGN = "/scc/sp_create_temp_file_upload_sign"


def signs(emu: Emulator) -> int:
    return emu.stats.requests_by_path.get(SIGN, 0)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    path = tmp_path / "shared.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    return path


def write_jobs(path: Path, shared: Path, count: int, workflow: str) -> Path:
    lines = [
        {"id": f"j{n:02d}", "workflow_id": workflow, "input": {"prompt": f"p{n}", "image": {"$file": str(shared)}}}
        for n in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def picky(emu: Emulator) -> str:
    """A workflow that fails on ``p2``: with one job at a time and ``max_failures=1``, a
    batch stops after three jobs, the others left pending."""
    emu.register(
        "picky",
        lambda ctx, inputs: {"text": inputs["prompt"]},
        duration=0.01,
        fail=lambda inputs: "unlucky" if inputs["prompt"] == "p2" else None,
    )
    return "picky"


def first_run(emu: Emulator, jobs: Path, out: Path) -> None:
    with emu.client() as client:
        summary = run_batch(jobs, out, client=client, concurrency=1, max_failures=1)
    assert summary.stopped_early and summary.incomplete == 5
    assert signs(emu) == 1


def uploads_rows(out: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(out / "journal.sqlite") as db:
        return db.execute("SELECT sha256, size, content_type, access_url, until FROM uploads").fetchall()


def test_a_rerun_reuses_the_recorded_upload(
    emu: Emulator, tmp_path: Path, shared: Path, caplog: pytest.LogCaptureFixture
) -> None:
    jobs, out = write_jobs(tmp_path / "jobs.jsonl", shared, 8, picky(emu)), tmp_path / "out"
    caplog.set_level(logging.DEBUG, logger="speedpix")
    first_run(emu, jobs, out)
    ((digest, size, content_type, access_url, until),) = uploads_rows(out)
    assert digest == hashlib.sha256(shared.read_bytes()).hexdigest()
    assert (size, content_type) == (shared.stat().st_size, "image/png") and "?" in access_url
    assert until > time.time() + REUSE_MARGIN

    with emu.client() as client:  # a new client, as a new process would have
        summary = run_batch(jobs, out, client=client, concurrency=2)
    assert summary.succeeded == 7 and summary.failed == 1
    assert signs(emu) == 1, "the rerun uploaded the shared input again"
    assert emu.stats.tasks_created == 8
    assert {task.inputs["image"] for task in emu.tasks} == {access_url}
    # The presigned query stays in the journal: not in the results, the report or the logs.
    query = access_url.split("?", 1)[1]
    for name in ("results.jsonl", "report.html"):
        assert query not in (out / name).read_text(), name
    assert "Signature=" not in caplog.text


def test_an_upload_no_longer_valid_long_enough_is_made_again(emu: Emulator, tmp_path: Path, shared: Path) -> None:
    jobs, out = write_jobs(tmp_path / "jobs.jsonl", shared, 8, picky(emu)), tmp_path / "out"
    first_run(emu, jobs, out)
    short = time.time() + REUSE_MARGIN - 60
    with sqlite3.connect(out / "journal.sqlite") as db:
        db.execute("UPDATE uploads SET until = ?", (short,))
    ((_, _, _, old_url, _),) = uploads_rows(out)

    with emu.client() as client:
        assert run_batch(jobs, out, client=client, concurrency=2).succeeded == 7
    assert signs(emu) == 2
    ((_, _, _, new_url, until),) = uploads_rows(out)  # the new upload replaced the old one
    assert new_url != old_url and until > short + 60


def test_a_journal_without_the_uploads_table_resumes(emu: Emulator, tmp_path: Path, shared: Path) -> None:
    jobs, out = write_jobs(tmp_path / "jobs.jsonl", shared, 8, picky(emu)), tmp_path / "out"
    first_run(emu, jobs, out)
    with sqlite3.connect(out / "journal.sqlite") as db:
        db.execute("DROP TABLE uploads")  # as an older SDK left it

    with emu.client() as client:
        summary = run_batch(jobs, out, client=client, concurrency=2)
    assert summary.succeeded == 7 and summary.failed == 1 and emu.stats.tasks_created == 8
    assert signs(emu) == 2  # nothing to reuse: uploaded once more, and recorded
    assert len(uploads_rows(out)) == 1


def test_a_client_without_reuse_records_nothing(emu: Emulator, tmp_path: Path, shared: Path) -> None:
    jobs, out = write_jobs(tmp_path / "jobs.jsonl", shared, 3, picky(emu)), tmp_path / "out"
    with emu.client(reuse_uploads=False) as client:
        run_batch(jobs, out, client=client, concurrency=1)
    assert signs(emu) == 3 and uploads_rows(out) == []


def test_killed_mid_run_the_rerun_reuses_the_upload(emu: Emulator, tmp_path: Path, shared: Path) -> None:
    emu.configure("demo-txt2img", duration=0.5)
    jobs, out = write_jobs(tmp_path / "jobs.jsonl", shared, 20, "demo-txt2img"), tmp_path / "out"
    args = ("batch", str(jobs), "-o", str(out), "--concurrency", "4")
    proc = start_cli(*args, env=emulator_env(emu), cwd=tmp_path)
    stop_mid_run(proc, out / "journal.sqlite", emu, 20, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert signs(emu) == 1 and len(uploads_rows(out)) == 1  # recorded while running

    rerun = run_cli(*args, env=emulator_env(emu), cwd=tmp_path, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert emu.stats.tasks_created == 20
    assert signs(emu) == 1
    assert "Signature=" not in rerun.stderr + rerun.stdout
