"""Batches whose outputs stream straight to object storage (issue 21): ``run_batch(...,
"memory://…", state=DIR)`` and ``speedpix batch JOBS -o URL --state DIR``. The files go
to ``URL/<job id>/``, nothing is written locally but the state folder (journal,
``results.jsonl``, ``report.html``), the checksums recorded are those of the stored
objects, and what cannot work is refused before any task is submitted."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import uuid
from html import escape
from pathlib import Path
from typing import Any

import pytest

from speedpix import ConfigurationError
from speedpix.batch import BatchInputError, run_batch
from speedpix.testing import Emulator

from ..cli.conftest import emulator_env, run_cli

pytestmark = pytest.mark.timeout(90)

# "&" and "'" are valid in a job id (and so in its storage URL): the report escapes them.
JOBS = [
    {"id": "fox&hound", "workflow_id": "demo-txt2img", "input": {"prompt": "a fox"}},
    {"id": "owl's", "workflow_id": "demo-txt2img", "input": {"prompt": "an owl", "width": 24}},
]


def memory() -> Any:
    import fsspec

    return fsspec.filesystem("memory")


def tree(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*")}


def read_results(state: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, (state / "results.jsonl").read_text().splitlines())}


def test_a_batch_streams_its_outputs_to_storage(emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # anything written to the current folder would show below
    bucket = f"bucket-{uuid.uuid4().hex[:8]}"
    url = f"memory:///{bucket}/renders"  # memory://'s own spelling, as fsspec gives its URLs back
    state = tmp_path / "state"
    with emu.client() as client:
        summary = run_batch(JOBS, url, state=state, client=client, concurrency=2)
    assert summary.ok and summary.total == 2, summary.count_line()
    assert summary.output_url == url and summary.results_path == state / "results.jsonl"

    # The outputs are in the storage, under URL/<job id>/, named as in a local folder.
    stored = {path: memory().cat(path) for path in memory().find(f"/{bucket}")}
    assert sorted(stored) == [f"/{bucket}/renders/fox&hound/images.png", f"/{bucket}/renders/owl's/images.png"]
    assert all(content.startswith(b"\x89PNG") for content in stored.values())

    # Nothing local but the state folder.
    assert {name.split("/")[0] for name in tree(tmp_path)} == {"state"}
    assert {"journal.sqlite", "results.jsonl", "report.html"} <= tree(state)
    assert not any(name.endswith((".png", ".part")) for name in tree(state))

    # results.jsonl: the full storage URL, the size and SHA-256 of the stored object.
    results = read_results(state)
    for job in JOBS:
        line = results[job["id"]]
        (output,) = line["outputs"]
        content = stored[f"/{bucket}/renders/{job['id']}/images.png"]
        assert output == {
            "path": f"memory:///{bucket}/renders/{job['id']}/images.png",
            "bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        assert line["files"] == [output["path"]] and line["status"] == "succeeded"

    # report.html: each URL as escaped text, no thumbnail pointing at the storage.
    report = (state / "report.html").read_text()
    for job in JOBS:
        shown = escape(f"memory:///{bucket}/renders/{job['id']}/images.png")
        assert f'<div class="url">{shown}</div>' in report
    assert "fox&hound/" not in report and "owl's/" not in report  # never unescaped
    assert "<img" not in report and report.count("memory://") == 2

    # No output link's signature (its query) in the journal.
    with sqlite3.connect(state / "journal.sqlite") as db:
        stored_rows = " ".join(str(value) for row in db.execute("SELECT * FROM jobs") for value in row)
    assert "?" not in stored_rows

    # `speedpix report STATE` rebuilds it from the journal.
    (state / "report.html").unlink()
    done = run_cli("report", str(state), env=emulator_env(emu), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rebuilt = (state / "report.html").read_text()
    for job in JOBS:
        assert escape(f"memory:///{bucket}/renders/{job['id']}/images.png") in rebuilt

    # A rerun finds everything done: nothing submitted, nothing saved again.
    submitted = len(emu.tasks)
    with emu.client() as client:
        again = run_batch(JOBS, url, state=state, client=client)
    assert again.ok and len(emu.tasks) == submitted
    assert read_results(state) == results  # the same lines, the same checksums


def test_a_storage_url_without_a_state_folder_is_refused_before_submitting(emu: Emulator, tmp_path: Path) -> None:
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in JOBS))
    submitted, created = len(emu.tasks), emu.stats.tasks_created
    url = f"memory://bucket-{uuid.uuid4().hex[:8]}/out"
    done = run_cli("batch", "jobs.jsonl", "-o", url, "-q", env=emulator_env(emu), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "--state DIR" in done.stderr and url in done.stderr
    assert len(emu.tasks) == submitted and emu.stats.tasks_created == created
    assert tree(tmp_path) == {"jobs.jsonl"}

    with emu.client() as client, pytest.raises(BatchInputError, match="--state DIR"):
        run_batch(JOBS, url, client=client)
    assert len(emu.tasks) == submitted and emu.stats.tasks_created == created


def test_a_state_folder_with_a_local_output_folder_is_refused(emu: Emulator, tmp_path: Path) -> None:
    submitted = len(emu.tasks)
    with emu.client() as client:
        with pytest.raises(BatchInputError, match="separate state folder"):
            run_batch(JOBS, tmp_path / "out", state=tmp_path / "state", client=client)
        with pytest.raises(BatchInputError, match="storage_options"):
            run_batch(JOBS, tmp_path / "out", storage_options={"anon": True}, client=client)
    assert len(emu.tasks) == submitted and tree(tmp_path) == set()


def test_a_scheme_whose_package_is_missing_is_refused_before_submitting(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ossfs", None)  # not installed, even where it is
    submitted = len(emu.tasks)
    with emu.client() as client, pytest.raises(ConfigurationError, match="pip install ossfs"):
        run_batch(JOBS, "oss://bucket/out", state=tmp_path / "state", client=client)
    assert len(emu.tasks) == submitted
    assert tree(tmp_path) == set()  # not even the state folder

    # The command: exit code 2, the package named, no task (ossfs is not a dependency).
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in JOBS))
    args = ["batch", "jobs.jsonl", "-o", "oss://bucket/out", "--state", "state", "-q"]
    done = run_cli(*args, env=emulator_env(emu), cwd=tmp_path)
    assert done.returncode == 2 and "pip install ossfs" in done.stderr, done.stderr
    assert len(emu.tasks) == submitted and tree(tmp_path) == {"jobs.jsonl"}


def test_the_command_streams_to_storage(emu: Emulator, tmp_path: Path) -> None:
    # memory:// lives in the command's process: here, what it reports and leaves locally.
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in JOBS))
    url = f"memory:///bucket-{uuid.uuid4().hex[:8]}/out/"
    args = ["batch", "jobs.jsonl", "-o", url, "--state", "state", "-q", "--json"]
    done = run_cli(*args, env=emulator_env(emu), cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["succeeded"] == 2 and summary["output_url"] == url
    assert {name.split("/")[0] for name in tree(tmp_path)} == {"jobs.jsonl", "state"}
    results = read_results(tmp_path / "state")
    for job in JOBS:
        (output,) = results[job["id"]]["outputs"]
        assert output["path"] == f"{url}{job['id']}/images.png"
        assert output["bytes"] > 0 and len(output["sha256"]) == 64
