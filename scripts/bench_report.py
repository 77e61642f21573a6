"""Benchmark ``report.html`` for a large batch (issue 21): time and size.

Runs a batch of JOBS jobs against one in-process emulator on loopback (the built-in
text-to-image workflow, one PNG each; every tenth job fails), then rebuilds its ``report.html`` from the journal
RUNS times, as ``speedpix report DIR`` does, and prints the median time, the file's size
and what it holds (jobs, thumbnails). Targets: under 2 s and under 5 MB for 1,000 jobs.

    uv run python scripts/bench_report.py [--jobs 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from speedpix.batch import run_batch, write_report
from speedpix.testing import Emulator


def _workflow(i: int) -> str:
    return "refused" if i % 10 == 0 else "demo-txt2img"  # the built-in one makes a PNG


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="speedpix-bench-report-"))
    jobs = folder / "jobs.jsonl"
    jobs.write_text(
        "".join(
            json.dumps({"id": f"job-{i:05d}", "workflow_id": _workflow(i), "input": {"prompt": f"a fox, take {i}"}})
            + "\n"
            for i in range(args.jobs)
        )
    )
    out = folder / "out"
    with Emulator() as emu:
        emu.register("refused", lambda ctx, inputs: {}, duration=0.0, fail=True)
        with emu.client() as client:
            started = time.perf_counter()
            summary = run_batch(jobs, out, client=client, concurrency=32)
            batch_s = time.perf_counter() - started
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        report = write_report(out)
        times.append(time.perf_counter() - started)
    html = report.read_text(encoding="utf-8")
    present = sum(f"job-{i:05d}" in html for i in range(args.jobs))
    print(f"batch of {args.jobs} jobs: {summary.succeeded} succeeded, {summary.failed} failed, {batch_s:.1f} s")
    print(f"report.html: median {statistics.median(times):.3f} s over {args.runs} runs (max {max(times):.3f} s)")
    size_mb = report.stat().st_size / 1e6
    print(f"report.html: {size_mb:.2f} MB; jobs named {present}/{args.jobs}; <img> {html.count('<img')}")


if __name__ == "__main__":
    main()
