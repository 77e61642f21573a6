"""Batches streamed to S3 (issue 21): ``run_batch(..., "s3://…", state=DIR)`` and ``speedpix
batch -o s3://… --state DIR`` against moto's S3 server on loopback through s3fs. Each job's
files land under ``URL/<job id>/``; the checksums recorded are the stored objects'; no
temporary object nor multipart upload is left; refusals come before any submission."""

from __future__ import annotations

import hashlib
import json
from html import escape
from pathlib import Path
from typing import Any

import pytest

from speedpix.batch import run_batch
from speedpix.testing import Emulator

from ...cli.conftest import emulator_env, run_cli
from .conftest import AWS_ENV, objects, pending_uploads

pytestmark = pytest.mark.timeout(90)

JOBS = [
    {"id": "fox", "workflow_id": "demo-txt2img", "input": {"prompt": "a fox"}},
    {"id": "owl&co", "workflow_id": "demo-txt2img", "input": {"prompt": "an owl", "width": 24}},
]


def tree(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*")}


def read_results(state: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, (state / "results.jsonl").read_text().splitlines())}


def check_outputs(state: Path, stored: dict[str, bytes], bucket: str, jobs: list[dict[str, Any]]) -> None:
    """results.jsonl names every stored object by URL, with its size and SHA-256."""
    results = read_results(state)
    recorded = {}
    for job in jobs:
        line = results[job["id"]]
        assert line["status"] == "succeeded", line
        assert line["files"] == [output["path"] for output in line["outputs"]]
        for output in line["outputs"]:
            recorded[output["path"]] = (output["bytes"], output["sha256"])
    assert recorded == {
        f"s3://{bucket}/{key}": (len(content), hashlib.sha256(content).hexdigest()) for key, content in stored.items()
    }


def test_a_batch_streams_to_s3(emu: Emulator, s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    jobs = JOBS
    state = tmp_path / "state"
    with emu.client() as client:
        summary = run_batch(
            jobs,
            f"s3://{bucket}/renders/",
            state=state,
            storage_options={"endpoint_url": s3_endpoint},
            client=client,
            concurrency=2,
        )
    assert summary.ok, summary.count_line()
    stored = objects(s3_endpoint, bucket)
    assert sorted(stored) == ["renders/fox/images.png", "renders/owl&co/images.png"]
    assert all(content.startswith(b"\x89PNG") for content in stored.values())
    assert pending_uploads(s3_endpoint, bucket) == []
    check_outputs(state, stored, bucket, jobs)
    assert not any(name.endswith((".png", ".part")) for name in tree(tmp_path))

    report = (state / "report.html").read_text()
    assert escape(f"s3://{bucket}/renders/owl&co/images.png") in report and "owl&co" not in report
    assert "<img" not in report


def test_the_command_streams_to_s3(emu: Emulator, s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in JOBS))
    env = emulator_env(emu, FSSPEC_S3_ENDPOINT_URL=s3_endpoint, **AWS_ENV)
    args = ["batch", "jobs.jsonl", "-o", f"s3://{bucket}/out", "--state", "state", "-q", "--json"]
    done = run_cli(*args, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output_url"] == f"s3://{bucket}/out"
    stored = objects(s3_endpoint, bucket)
    assert sorted(stored) == ["out/fox/images.png", "out/owl&co/images.png"]
    check_outputs(tmp_path / "state", stored, bucket, JOBS)
    assert {name.split("/")[0] for name in tree(tmp_path)} == {"jobs.jsonl", "state"}

    (tmp_path / "state" / "report.html").unlink()
    rebuilt = run_cli("report", "state", env=env, cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert escape(f"s3://{bucket}/out/fox/images.png") in (tmp_path / "state" / "report.html").read_text()


def test_s3_without_a_state_folder_submits_nothing(
    emu: Emulator, s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(job) + "\n" for job in JOBS))
    submitted = len(emu.tasks)
    env = emulator_env(emu, FSSPEC_S3_ENDPOINT_URL=s3_endpoint, **AWS_ENV)
    done = run_cli("batch", "jobs.jsonl", "-o", f"s3://{bucket}/out", "-q", env=env, cwd=tmp_path)
    assert done.returncode == 2 and "add --state DIR" in done.stderr, done.stderr
    assert len(emu.tasks) == submitted
    assert objects(s3_endpoint, bucket) == {} and tree(tmp_path) == {"jobs.jsonl"}
