"""A batch meets the content-security check end to end: every prompt holds a word the
emulator refuses (``B_API_AuditFailed``), ``--max-failures 3`` stops the batch, the kind
``content_moderation`` shows in the summary, ``results.jsonl`` and ``report.html``; once
the word is no longer refused, a rerun of the same command finishes every job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from speedpix.batch import run_batch
from speedpix.testing import Emulator

from .conftest import emulator_env, run_cli

JOBS = 20
WORD = "forbidden"
EXIT_STOPPED = 5  # docs/cli.md: "batch stopped early: --max-failures reached"


@pytest.fixture
def strict_emu() -> Iterator[Emulator]:
    """An emulator of its own: its words must not leak into the module's shared one."""
    with Emulator(sensitive_words=[WORD]) as emulator:
        yield emulator


def write_jobs(path: Path) -> Path:
    lines = [
        json.dumps({"id": f"j{n:02d}", "workflow_id": "demo-txt2img", "input": {"prompt": f"a Forbidden cat #{n}"}})
        for n in range(JOBS)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_results(out: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}


def test_moderation_stops_the_batch_and_a_rerun_finishes_it(strict_emu: Emulator, tmp_path: Path) -> None:
    emu = strict_emu
    jobs = write_jobs(tmp_path / "jobs.jsonl")
    # One job at a time, so the documented rule ("stops submitting new jobs once N jobs
    # have failed in this run") gives an exact count: nothing else is in flight.
    args = ("batch", str(jobs), "-o", "out", "--concurrency", "1", "--max-failures", "3")
    first = run_cli(*args, "--json", env=emulator_env(emu), cwd=tmp_path)
    assert first.returncode == EXIT_STOPPED, first.stderr

    # Exactly three submissions reached the service, all refused; nothing was created.
    assert emu.stats.requests_by_path["/scc/comfy_prompt"] == 3
    assert (emu.stats.moderated, emu.stats.tasks_created) == (3, 0)

    # The summary: --json on stdout, the count line on stderr.
    summary = json.loads(first.stdout)
    assert summary["stopped_early"] is True and "3 jobs failed (--max-failures 3)" in summary["stop_reason"]
    assert summary["failed"] == 3 and summary["failed_by_kind"] == {"content_moderation": 3}
    assert summary["succeeded"] == 0 and summary["incomplete"] == JOBS - 3
    assert "3 refused by content moderation" in first.stderr and "stopped early" in first.stderr

    # results.jsonl: the kind and the service's code per refused job, no task.
    results = read_results(tmp_path / "out")
    failed = [r for r in results.values() if r["status"] == "failed"]
    assert len(failed) == 3
    for row in failed:
        assert row["failure_kind"] == "content_moderation" and row["error_code"] == "B_API_AuditFailed"
        assert row["task_id"] is None and "content-security check refused the input" in row["error"]
        assert row["inputs"]["prompt"].startswith("a Forbidden cat")
    held = [r for r in results.values() if r["status"] == "incomplete"]
    assert len(held) == JOBS - 3 and all("stopped early" in r["error"] for r in held)

    # report.html: the kind in words, in the counts and in the failures table (with its
    # name, as in results.jsonl, on hover).
    report = (tmp_path / "out" / "report.html").read_text()
    assert report.count("refused by content moderation") >= 1 + 3
    assert report.count('<td title="content_moderation">refused by content moderation</td>') == 3
    assert "B_API_AuditFailed" in report

    # The word is no longer refused: the same command resubmits the refused jobs (they
    # created no task) and the held-back ones, and finishes all twenty.
    emu.set_sensitive_words([])
    second = run_cli(*args, "--json", env=emulator_env(emu), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    rerun = json.loads(second.stdout)
    assert rerun["succeeded"] == JOBS and rerun["failed"] == 0 and rerun["failed_by_kind"] == {}
    assert rerun["stopped_early"] is False
    assert emu.stats.tasks_created == JOBS and emu.stats.moderated == 3
    again = read_results(tmp_path / "out")
    assert all(r["status"] == "succeeded" and "failure_kind" not in r for r in again.values())
    report = (tmp_path / "out" / "report.html").read_text()
    assert "refused by content moderation" not in report


def test_with_several_at_once_the_jobs_in_flight_may_add_to_the_limit(strict_emu: Emulator, tmp_path: Path) -> None:
    # With concurrency C, up to C - 1 submissions already past the check when the limit
    # is reached are still made: refused ones lie between 3 and 3 + C - 1.
    concurrency = 4
    with strict_emu.client() as client:
        summary = run_batch(
            write_jobs(tmp_path / "jobs.jsonl"),
            tmp_path / "out",
            client=client,
            concurrency=concurrency,
            max_failures=3,
        )
    refused = strict_emu.stats.moderated
    assert 3 <= refused <= 3 + concurrency - 1, refused
    assert summary.stopped_early and summary.failed_by_kind == {"content_moderation": refused}
    assert summary.incomplete == JOBS - refused and strict_emu.stats.tasks_created == 0
