"""Benchmark the batch runner against an account quota: does it find the limit?

An emulator (in this process) allows N submissions per second per app key; the
``speedpix batch`` command (a subprocess, as a user runs it) runs JOBS jobs of short
tasks with ``--concurrency C``. Printed:

  - run 1: failed jobs, duplicate submissions, the submission rate achieved as a share
    of the quota, the concurrency the batch ended at and how often it was throttled;
  - run 2: the same batch killed with SIGKILL once about half of it is submitted, then
    rerun to the end: duplicate submissions (must be 0), and the jobs left "unknown"
    (caught mid-submission by the kill: not resubmitted, by design).

Targets (issue 15): 1,000 jobs, --concurrency 64, 10 submissions/s: 0 failed, 0
duplicates, >= 80 % of the quota; after SIGKILL and rerun, still 0 duplicates.
At 10/s a run takes about 100 s; ``--jobs 200`` for a quick look.

    uv run python scripts/bench_batch.py [--jobs 1000] [--rate 10] [--concurrency 64] [--duration 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from speedpix.testing import Emulator

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = "short"


def short_task(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"text": inputs["prompt"]}


def write_jobs(path: Path, count: int) -> None:
    with path.open("w") as stream:
        for n in range(count):
            stream.write(json.dumps({"id": f"job-{n:04d}", "workflow_id": WORKFLOW, "input": {"prompt": f"p{n}"}}))
            stream.write("\n")


def batch_command(jobs: Path, out: Path, concurrency: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "speedpix",
        "batch",
        str(jobs),
        "-o",
        str(out),
        "--concurrency",
        str(concurrency),
        "--json",
        "-q",
    ]


def environment(emu: Emulator) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SPEEDPIX_")}
    env.update(SPEEDPIX_ENDPOINT=emu.endpoint, SPEEDPIX_APP_KEY=emu.app_key, SPEEDPIX_APP_SECRET=emu.app_secret)
    env["PYTHONPATH"] = str(ROOT)
    return env


def duplicates(emu: Emulator) -> int:
    counts = Counter(task.inputs["prompt"] for task in emu.tasks)
    return sum(count - 1 for count in counts.values())


def submission_rate(emu: Emulator) -> float:
    """Tasks created per second, from the first creation to the last."""
    times = sorted(task.created_at for task in emu.tasks)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def summary_of(output: str) -> dict[str, Any]:
    return json.loads(output.strip().splitlines()[-1])


def run_once(emu: Emulator, jobs: Path, out: Path, args: argparse.Namespace) -> None:
    started = time.monotonic()
    result = subprocess.run(
        batch_command(jobs, out, args.concurrency), env=environment(emu), capture_output=True, text=True
    )
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"batch failed ({result.returncode}): {result.stderr}")
    summary = summary_of(result.stdout)
    rate = submission_rate(emu)
    print(
        f"run:   {summary['succeeded']}/{args.jobs} succeeded, {summary['failed']} failed, "
        f"{summary['unknown']} unknown, {duplicates(emu)} duplicate submissions; "
        f"{rate:.2f} submissions/s = {rate / args.rate:.0%} of the {args.rate:g}/s quota; "
        f"{args.jobs / elapsed:.2f} jobs/s overall ({elapsed:.1f} s); concurrency {args.concurrency} -> "
        f"{summary['concurrency']} (lowest {summary['lowest_concurrency']}), "
        f"{summary['throttled']} throttled submissions ({emu.stats.throttled} refused by the emulator)"
    )


def run_killed(emu: Emulator, jobs: Path, out: Path, args: argparse.Namespace) -> None:
    proc = subprocess.Popen(
        batch_command(jobs, out, args.concurrency),
        env=environment(emu),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while emu.stats.tasks_created < args.jobs // 2:
        if proc.poll() is not None:
            raise SystemExit("the batch finished before it could be killed")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = emu.stats.tasks_created
    result = subprocess.run(
        batch_command(jobs, out, args.concurrency), env=environment(emu), capture_output=True, text=True
    )
    summary = summary_of(result.stdout)
    print(
        f"kill:  SIGKILL after {at_kill} submissions, rerun: {summary['succeeded']}/{args.jobs} succeeded, "
        f"{summary['failed']} failed, {summary['unknown']} unknown (caught mid-submission, not resubmitted), "
        f"{duplicates(emu)} duplicate submissions; {emu.stats.tasks_created} tasks for {args.jobs} jobs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="the quota: submissions per second")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=1.0, help="seconds each task runs")
    args = parser.parse_args()
    print(
        f"bench_batch: {args.jobs} jobs of {args.duration:g} s tasks, --concurrency {args.concurrency}, "
        f"quota {args.rate:g} submissions/s"
    )
    with Emulator(max_submissions_per_second=args.rate) as emu, tempfile.TemporaryDirectory() as scratch:
        emu.register(WORKFLOW, short_task, duration=args.duration)
        jobs = Path(scratch) / "jobs.jsonl"
        write_jobs(jobs, args.jobs)
        run_once(emu, jobs, Path(scratch) / "out-1", args)
        emu.reset()
        run_killed(emu, jobs, Path(scratch) / "out-2", args)


if __name__ == "__main__":
    main()
