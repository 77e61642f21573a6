"""What both benchmark workers share: the jobs, timed the same way for either SDK.

A worker (``_bench_ours_worker.py`` in the project's venv, ``_bench_original_worker.py``
in the venv holding ``speedpix==1.0.4``) reads one JSON job on stdin, runs it with its
SDK through an :class:`Adapter`, and prints one JSON line of measurements. Only the
standard library is used here, so this file imports under either interpreter.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any

_TASK_ID = re.compile(r"/output/([0-9a-z]{26})/")


def task_id_of(output: Any) -> str:
    """The task id, read from the output URL the emulator made (``/output/<task id>/``)."""
    match = _TASK_ID.search(repr(output))
    if match is None:
        raise RuntimeError(f"no task id in output {output!r}")
    return match.group(1)


def now_ms() -> float:
    return time.time() * 1000.0


# -- memory ----------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_kib() -> int:
    return _status_kib("VmRSS")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def peak_rss_kib() -> int:
    return _status_kib("VmHWM")


# -- the adapter each worker provides ----------------------------------------------------


class Adapter:
    """How one SDK does each thing the benchmark measures."""

    def make_client(self, endpoint: str, app_key: str, app_secret: str) -> Any:
        raise NotImplementedError

    def run(self, client: Any, workflow: str, inputs: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def async_run(self, client: Any, workflow: str, inputs: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def async_get(self, client: Any, task_id: str) -> Any:
        """``predictions.async_get``: the task's progress, and its result once finished."""
        raise NotImplementedError

    def upload(self, client: Any, path: str) -> str:
        raise NotImplementedError

    def save(self, output: Any, path: str) -> None:
        raise NotImplementedError

    def sign_only(self, client: Any) -> Any:
        """A callable computing the signature headers of one API request."""
        raise NotImplementedError

    def build_and_sign(self, client: Any) -> Any:
        """A callable building one complete signed API request (not sending it)."""
        raise NotImplementedError

    def floor_put(self, client: Any, path: str) -> float:
        raise NotImplementedError


# -- jobs --------------------------------------------------------------------------------


def job_lag(adapter: Adapter, client: Any, job: dict[str, Any]) -> dict[str, Any]:
    adapter.run(client, job["warmup"], {"prompt": "warm-up"})
    results: dict[str, list[dict[str, Any]]] = {}
    for workflow, runs in job["workflows"]:
        rows = []
        for i in range(runs):
            started = now_ms()
            output = adapter.run(client, workflow, {"prompt": f"run {i}"})
            returned = now_ms()
            rows.append({"task": task_id_of(output), "started": started, "returned": returned})
        results[workflow] = rows
    return {"runs": results}


def job_concurrent(adapter: Adapter, client: Any, job: dict[str, Any]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        await adapter.async_run(client, job["warmup"], {"prompt": "warm-up"})
        rows: list[dict[str, Any]] = []
        errors: list[str] = []

        async def one(i: int) -> None:
            try:
                output = await adapter.async_run(client, job["workflow"], {"prompt": f"task {i}"})
            except Exception as error:  # counted, not fatal: the original fails some of these
                errors.append(type(error).__name__)
                return
            rows.append({"task": task_id_of(output), "returned": now_ms()})

        started = now_ms()
        await asyncio.gather(*(one(i) for i in range(job["n"])))
        return {"started": started, "ended": now_ms(), "rows": rows, "errors": errors}

    return asyncio.run(main())


def job_memory(adapter: Adapter, client: Any, job: dict[str, Any]) -> dict[str, Any]:
    baseline = rss_kib()
    if not reset_peak_rss():
        raise RuntimeError("cannot reset the peak RSS (/proc/self/clear_refs)")
    upload_times = []
    for _ in range(job["upload_repeats"]):
        started = time.perf_counter()
        adapter.upload(client, job["upload_path"])
        upload_times.append(time.perf_counter() - started)
    upload_peak = peak_rss_kib()
    output = adapter.run(client, job["workflow"], {"prompt": "large output"})
    target = os.path.join(job["save_dir"], f"saved-{os.getpid()}.bin")
    started = time.perf_counter()
    adapter.save(output, target)
    save_time = time.perf_counter() - started
    saved = os.path.getsize(target)
    os.remove(target)
    return {
        "baseline_kib": baseline,
        "peak_above_baseline_kib": peak_rss_kib() - baseline,
        "upload_peak_above_baseline_kib": upload_peak - baseline,
        "upload_seconds": upload_times,
        "save_seconds": save_time,
        "saved_bytes": saved,
    }


def job_floor(adapter: Adapter, client: Any, job: dict[str, Any]) -> dict[str, Any]:
    return {"upload_seconds": [adapter.floor_put(client, job["upload_path"]) for _ in range(job["repeats"])]}


def job_upload_speed(adapter: Adapter, client: Any, job: dict[str, Any]) -> dict[str, Any]:
    """The floor (bare streaming PUT) and files.create, interleaved, so that both see
    the same state of the emulator's disk (its page cache fills as uploads pile up)."""
    floor, upload = [], []

    def ours() -> None:
        started = time.perf_counter()
        adapter.upload(client, job["upload_path"])
        upload.append(time.perf_counter() - started)

    for i in range(job["repeats"]):
        # Alternate which goes first: neither always gets the fresher disk.
        if i % 2:
            ours()
            floor.append(adapter.floor_put(client, job["upload_path"]))
        else:
            floor.append(adapter.floor_put(client, job["upload_path"]))
            ours()
    return {"floor_seconds": floor, "upload_seconds": upload}


def job_multi(adapter: Adapter, client: Any, job: dict[str, Any]) -> dict[str, Any]:
    async def main() -> list[float]:
        # The warm-up uploads one of the files, so that one-time costs (the storage
        # client, its imports, worker threads) fall outside the timed runs, for either SDK.
        await adapter.async_run(client, job["warmup"], {"prompt": "warm-up", "image_0": Path(job["paths"][0])})
        walls = []
        for _ in range(job["repeats"]):
            inputs: dict[str, Any] = {"prompt": "eight files"}
            for i, path in enumerate(job["paths"]):
                inputs[f"image_{i}"] = Path(path)
            started = time.perf_counter()
            await adapter.async_run(client, job["workflow"], inputs)
            walls.append(time.perf_counter() - started)
        return walls

    return {"wall_seconds": asyncio.run(main())}


def job_sign(adapter: Adapter, client: Any, job: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, factory in (("sign_only", adapter.sign_only), ("build_and_sign", adapter.build_and_sign)):
        fn = factory(client)
        fn()
        timer = timeit.Timer(fn)
        number = job["number"]
        best = min(timer.repeat(repeat=5, number=number)) / number
        out[name + "_us"] = best * 1e6
    return out


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def job_async_get_cpu(adapter: Adapter, client: Any, job: dict[str, Any]) -> dict[str, Any]:
    """CPU of this process per ``predictions.async_get`` of a finished task (a progress
    and a result call), one after the other and ``n`` at once: what following many
    tasks costs the caller, apart from waiting."""

    async def main() -> dict[str, float]:
        output = await adapter.async_run(client, job["warmup"], {"prompt": "warm-up"})
        task_id = task_id_of(output)
        await adapter.async_get(client, task_id)
        n = job["n"]
        started = _cpu_seconds()
        for _ in range(n):
            await adapter.async_get(client, task_id)
        sequential = (_cpu_seconds() - started) / n
        started = _cpu_seconds()
        await asyncio.gather(*(adapter.async_get(client, task_id) for _ in range(n)))
        concurrent = (_cpu_seconds() - started) / n
        return {"sequential_us": sequential * 1e6, "concurrent_us": concurrent * 1e6}

    return asyncio.run(main())


JOBS = {
    "lag": job_lag,
    "concurrent": job_concurrent,
    "memory": job_memory,
    "floor": job_floor,
    "upload_speed": job_upload_speed,
    "multi": job_multi,
    "sign": job_sign,
    "async_get_cpu": job_async_get_cpu,
}


def main(adapter: Adapter) -> None:
    job = json.loads(sys.stdin.read())
    client = adapter.make_client(job["endpoint"], job["app_key"], job["app_secret"])
    result = JOBS[job["kind"]](adapter, client, job)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


__all__ = ["Adapter", "main", "statistics"]
