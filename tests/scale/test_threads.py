"""One client, many threads: sync calls from many threads, and several threads each
running its own asyncio.run() on the same client. Every run gets its own output."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from speedpix.testing import Emulator

from ._jobs import async_run_job, prompt, run_job


def _check(emu: Emulator, results: list[tuple[int, str, str]], jobs: int) -> None:
    assert sorted(i for i, _, _ in results) == list(range(jobs))
    wrong = [(i, text) for i, text, _ in results if text != prompt(i)]
    assert wrong == []
    assert len({task for _, _, task in results}) == jobs
    assert Counter(task.inputs["prompt"] for task in emu.tasks) == Counter(prompt(i) for i in range(jobs))


def test_many_threads_share_one_client_for_sync_calls(emu: Emulator) -> None:
    emu.inject("/scc/*", "slow", count=10**6, delay=0.02)  # so that calls overlap
    client = emu.client(max_retries=0)
    jobs = 64
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: run_job(client, i), range(jobs)))
    _check(emu, results, jobs)
    client.close()


def test_threads_each_with_their_own_event_loop_share_one_client(emu: Emulator) -> None:
    emu.inject("/scc/*", "slow", count=10**6, delay=0.02)
    client = emu.client(max_retries=0)
    threads, per_thread = 4, 8

    async def batch(first: int) -> list[tuple[int, str, str]]:
        return list(await asyncio.gather(*(async_run_job(client, first + k) for k in range(per_thread))))

    def in_thread(n: int) -> list[tuple[int, str, str]]:
        # Two successive loops per thread: state of the first must not leak into the second.
        first = asyncio.run(batch(n * 2 * per_thread))
        return first + asyncio.run(batch(n * 2 * per_thread + per_thread))

    with ThreadPoolExecutor(threads + 1) as pool:
        futures = [pool.submit(in_thread, n) for n in range(threads)]
        # Sync calls from another thread at the same time, on the same client.
        sync = pool.submit(lambda: [run_job(client, 1000 + k) for k in range(4)])
        results = [result for future in futures for result in future.result()]
        sync_results = sync.result()
    assert [text for _, text, _ in sync_results] == [prompt(1000 + k) for k in range(4)]
    jobs = threads * 2 * per_thread
    submitted = Counter(task.inputs["prompt"] for task in emu.tasks)
    assert submitted == Counter(prompt(i) for i in [*range(jobs), *range(1000, 1004)])
    wrong = [(i, text) for i, text, _ in results if text != prompt(i)]
    assert wrong == [] and sorted(i for i, _, _ in results) == list(range(jobs))
    client.close()
