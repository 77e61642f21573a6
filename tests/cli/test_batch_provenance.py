"""``results.jsonl`` says what each job ran with and produced: workflow, alias or version,
inputs as sent (local files by checksum, never a URL's query), times, the service's
duration, and every saved file with its checksum. Old journals still load."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from speedpix.batch import load_jobs, run_batch
from speedpix.testing import Emulator

from .conftest import emulator_env, run_cli

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_results(out: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}


def test_results_carry_provenance(emu: Emulator, tmp_path: Path) -> None:
    photo = tmp_path / "photos" / "17.png"
    photo.parent.mkdir()
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    jobs = [
        {"id": "draw", "workflow_id": "demo-txt2img", "input": {"prompt": "a fox", "width": 32}},
        {"id": "pinned", "workflow_id": "demo-txt2img", "input": {"prompt": "b"}, "version_id": "v1"},
        {"id": "echo", "workflow_id": "demo-echo", "input": {"image": {"$file": "photos/17.png"}}},
        {"id": "plain", "workflow_id": "demo-echo", "input": {"image": "photos/17.png"}},
        {
            "id": "url",
            "workflow_id": "demo-txt2img",
            "input": {"prompt": "c", "ref": "https://user:pw@example.com/a.txt?Signature=abc&Expires=1"},
        },
    ]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in jobs))
    result = run_cli("batch", "jobs.jsonl", "-o", "out", env=emulator_env(emu), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    text = (out / "results.jsonl").read_text()
    assert "?" not in text and "Signature" not in text and "pw@" not in text
    results = read_results(out)
    tasks = {task.task_id: task for task in emu.tasks}

    draw = results["draw"]
    assert draw["workflow_id"] == "demo-txt2img" and draw["alias_id"] == "main" and "version_id" not in draw
    assert draw["inputs"] == {"prompt": "a fox", "width": 32}
    assert results["pinned"]["version_id"] == "v1" and "alias_id" not in results["pinned"]
    assert results["url"]["inputs"]["ref"] == "https://example.com/a.txt"
    photo_record = {"path": "photos/17.png", "bytes": photo.stat().st_size, "sha256": sha256(photo)}
    assert results["echo"]["inputs"] == {"image": photo_record}
    assert results["plain"]["inputs"] == {"image": photo_record}

    for job_id, line in results.items():
        assert ISO_UTC.match(line["submitted_at"]) and ISO_UTC.match(line["finished_at"]), line
        submitted = datetime.fromisoformat(line["submitted_at"])
        assert submitted <= datetime.fromisoformat(line["finished_at"])
        assert isinstance(line["duration_ms"], int) and line["duration_ms"] >= 0
        assert line["task_id"] in tasks
        (output,) = line["outputs"]
        saved = out / output["path"]
        assert saved.parent == out / job_id and str(saved.resolve()) in line["files"]
        assert output["bytes"] == saved.stat().st_size and output["sha256"] == sha256(saved)
    # The echo workflow returns the input's bytes: the checksums agree end to end.
    assert results["echo"]["outputs"][0]["sha256"] == photo_record["sha256"]


def test_a_failed_task_has_its_times_but_no_outputs(emu: Emulator, tmp_path: Path) -> None:
    jobs = [{"id": "bad", "workflow_id": "demo-txt2img", "input": {"prompt": ""}}]
    summary = run_batch(jobs, tmp_path / "out", client=emu.client())
    line = read_results(tmp_path / "out")["bad"]
    assert summary.failed == 1 and line["failure_kind"] == "task_failed"
    assert ISO_UTC.match(line["submitted_at"]) and ISO_UTC.match(line["finished_at"])
    assert "outputs" not in line and line["inputs"] == {"prompt": ""}


OLD_SCHEMA = """CREATE TABLE jobs (
    id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL, task_id TEXT, outputs TEXT,
    files TEXT, error TEXT, error_code TEXT, updated_at REAL NOT NULL
)"""


def test_a_journal_of_the_previous_format_still_loads(emu: Emulator, tmp_path: Path) -> None:
    jobs = [
        {"id": "old-done", "workflow_id": "demo-txt2img", "input": {"prompt": "a"}},
        {"id": "old-failed", "workflow_id": "demo-txt2img", "input": {"prompt": "b"}},
        {"id": "new", "workflow_id": "demo-txt2img", "input": {"prompt": "c"}},
    ]
    specs = {job.id: job.spec() for job in load_jobs(jobs)}
    out = tmp_path / "out"
    (out / "old-done").mkdir(parents=True)
    (out / "old-done" / "images.png").write_bytes(b"png")
    db = sqlite3.connect(out / "journal.sqlite")
    db.execute(OLD_SCHEMA)
    db.execute(
        "INSERT INTO jobs VALUES ('old-done', ?, 'done', 't-1', '{}', '[\"old-done/images.png\"]', NULL, NULL, 0)",
        (specs["old-done"],),
    )
    db.execute(
        "INSERT INTO jobs VALUES ('old-failed', ?, 'failed', 't-2', NULL, NULL, 'boom', 'TaskFailed', 0)",
        (specs["old-failed"],),
    )
    db.commit()
    db.close()

    summary = run_batch(jobs, out, client=emu.client())
    assert emu.stats.tasks_created == 1  # only the new job
    results = read_results(out)
    assert results["old-done"]["status"] == "succeeded" and results["old-done"]["task_id"] == "t-1"
    assert "outputs" not in results["old-done"] and "submitted_at" not in results["old-done"]
    assert results["old-failed"]["error"].startswith("boom") and "failure_kind" not in results["old-failed"]
    assert summary.failed_by_kind == {"other": 1}
    assert results["new"]["outputs"] and results["new"]["alias_id"] == "main"
    columns = {row[1] for row in sqlite3.connect(out / "journal.sqlite").execute("PRAGMA table_info(jobs)")}
    assert {"failure_kind", "sent", "finished"} <= columns
