"""Soak test: many short tasks through the async client while transient faults are injected.

Runs N tasks (default 1,000) at bounded concurrency (default 50) against a local emulator
in a child process (so its memory is not counted as ours). Before about one task in ten
(``--fault-rate``) a transient fault is injected on an endpoint where the retry policy may
repeat the request: throttling or ``B_API_CauseFlowControl`` on ``comfy_prompt`` (the only
refusals that prove no task was created); 5xx, throttling, flow control, dropped
connections, malformed JSON, HTML error pages and slow responses on the progress, result
and upload-sign calls; 5xx, drops and slow responses on the upload PUT. One task in five
uploads a small input file (``demo-echo``), the rest run ``demo-txt2img``.

Prints successes, typed failures (by class), duplicates (tasks the emulator created beyond
the submissions that succeeded), hangs (tasks past ``--deadline``), untyped failures, and
this process's RSS at start, after a warm-up and at the end. Expected: all succeed,
0 duplicates, 0 hangs, flat memory.

    uv run python scripts/soak.py [--tasks 1000] [--concurrency 50] [--fault-rate 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import multiprocessing
import random
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

# Transient faults per path, each of which the policy may retry for that endpoint.
FAULTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "/scc/comfy_prompt": [("throttle", {}), ("flow_control", {})],
    "/scc/comfy_get_progress": [
        ("http_error", {"status": 503}),
        ("throttle", {}),
        ("flow_control", {}),
        ("drop_before", {}),
        ("drop_after", {}),
        ("malformed_json", {}),
        ("html_error", {}),
        ("slow", {"delay": 1.5}),
    ],
    "/scc/comfy_get_result": [
        ("http_error", {"status": 500}),
        ("throttle", {}),
        ("drop_after", {}),
        ("malformed_json", {}),
        ("html_error", {}),
    ],
    "/scc/sp_create_temp_file_upload_sign": [("http_error", {"status": 502}), ("flow_control", {}), ("drop_after", {})],
    "/storage/upload/*": [("http_error", {"status": 503}), ("drop_before", {}), ("drop_after", {})],
}
# How often each path gets the fault (roughly its share of the traffic).
PATH_WEIGHTS = {
    "/scc/comfy_prompt": 3,
    "/scc/comfy_get_progress": 3,
    "/scc/comfy_get_result": 3,
    "/scc/sp_create_temp_file_upload_sign": 1,
    "/storage/upload/*": 1,
}
CLIENT_TIMEOUT = 1.0  # < the "slow" delay above, so slow responses time out and are retried
INPUT_FILE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- the emulator process


def _emulator_process(conn: Connection) -> None:
    from speedpix.testing import Emulator
    from speedpix.testing._workflows import demo_echo, demo_txt2img

    with Emulator() as emu:
        emu.register("soak-txt2img", demo_txt2img, duration=0.05)
        emu.register("soak-echo", demo_echo, duration=0.05)
        conn.send((emu.endpoint, emu.app_key, emu.app_secret))
        while True:
            command, *args = conn.recv()
            if command == "inject":
                path, kind, params = args
                emu.inject(path, kind, 1, **params)
                conn.send(None)
            elif command == "stats":
                stats = emu.stats
                conn.send((stats.tasks_created, dict(stats.requests_by_path)))
            else:
                conn.send(None)
                return


class EmulatorProcess:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_emulator_process, args=(child,), daemon=True)
        self.process.start()
        self.endpoint, self.app_key, self.app_secret = self.conn.recv()

    def call(self, *command: Any) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def close(self) -> None:
        self.call("stop")
        self.process.join(10)


# ---------------------------------------------------------------- the soak


async def soak(args: argparse.Namespace) -> int:
    import speedpix

    rng = random.Random(args.seed)
    emulator = EmulatorProcess()
    client = speedpix.Client(emulator.app_key, emulator.app_secret, endpoint=emulator.endpoint, timeout=CLIENT_TIMEOUT)
    outcomes: collections.Counter[str] = collections.Counter()
    submitted = 0
    faults: collections.Counter[str] = collections.Counter()
    limit = asyncio.Semaphore(args.concurrency)
    rss = {"start": rss_mib()}
    durations: list[float] = []

    async def one(index: int) -> None:
        nonlocal submitted
        async with limit:
            if rng.random() < args.fault_rate:
                path = rng.choices(list(PATH_WEIGHTS), weights=list(PATH_WEIGHTS.values()))[0]
                kind, params = rng.choice(FAULTS[path])
                emulator.call("inject", path, kind, params)
                faults[f"{path} {kind}"] += 1
            started = time.monotonic()
            try:
                if index % 5 == 0:
                    coro = client.async_run("soak-echo", {"image": INPUT_FILE})
                else:
                    coro = client.async_run("soak-txt2img", {"prompt": f"soak {index}", "width": 8, "height": 8})
                output = await asyncio.wait_for(coro, args.deadline)
                assert output["images"]["url"].startswith("http")
                submitted += 1
                outcomes["success"] += 1
            except TimeoutError:
                outcomes["hang"] += 1
            except speedpix.SpeedPixException as error:
                if error.task_id:
                    submitted += 1
                outcomes[f"typed failure: {type(error).__name__}"] += 1
                if args.verbose:
                    print(f"task {index}: {type(error).__name__}: {error}", file=sys.stderr)
            except Exception as error:  # counted and reported, never hidden
                outcomes[f"UNTYPED failure: {type(error).__name__}"] += 1
                print(f"task {index}: untyped {type(error).__name__}: {error}", file=sys.stderr)
            durations.append(time.monotonic() - started)

    async def pool(indices: range) -> None:
        # A fixed set of workers, not one asyncio task per job: memory then reflects the
        # client, not thousands of pending coroutines queued behind the semaphore.
        jobs = iter(indices)

        async def worker() -> None:
            for index in jobs:
                await one(index)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    started = time.monotonic()
    warmup = min(100, args.tasks)
    await pool(range(warmup))
    gc.collect()
    rss["after warm-up"] = rss_mib()
    await pool(range(warmup, args.tasks))
    elapsed = time.monotonic() - started
    await client.aclose()
    gc.collect()
    rss["end"] = rss_mib()
    tasks_created, by_path = emulator.call("stats")
    emulator.close()

    successes = outcomes["success"]
    typed = sum(n for key, n in outcomes.items() if key.startswith("typed"))
    untyped = sum(n for key, n in outcomes.items() if key.startswith("UNTYPED"))
    hangs = outcomes["hang"]
    duplicates = tasks_created - submitted
    durations.sort()
    print(f"tasks:            {args.tasks} at concurrency {args.concurrency}, {elapsed:.1f} s")
    print(f"faults injected:  {sum(faults.values())} ({sum(faults.values()) / args.tasks:.0%} of tasks)")
    for key, count in sorted(faults.items()):
        print(f"    {count:4d}  {key}")
    print(f"successes:        {successes}")
    print(f"typed failures:   {typed}")
    for key, count in sorted(outcomes.items()):
        if key.startswith("typed"):
            print(f"    {count:4d}  {key.removeprefix('typed failure: ')}")
    print(f"untyped failures: {untyped}")
    print(f"hangs (> {args.deadline:.0f} s):   {hangs}")
    print(f"tasks created:    {tasks_created} for {submitted} submissions -> duplicates: {duplicates}")
    grouped: collections.Counter[str] = collections.Counter()
    for path, count in by_path.items():
        grouped["/storage/upload/*" if path.startswith("/storage/upload/") else path] += count
    print(f"requests:         {sum(grouped.values())}: " + ", ".join(f"{p} {n}" for p, n in sorted(grouped.items())))
    print(f"task time:        p50 {durations[len(durations) // 2]:.2f} s, max {durations[-1]:.2f} s")
    print("RSS (MiB):        " + ", ".join(f"{name} {value:.1f}" for name, value in rss.items()))
    ok = successes == args.tasks and duplicates == 0 and hangs == 0
    print("RESULT:           " + ("OK" if ok else "PROBLEMS"))
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds after which a task counts as hung")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
