"""After fork(), a child never touches the parent's connections (issue: a child that
did interleaved its requests with its siblings' on the inherited keep-alive socket and
could return another task's output).

The parent uses its client first, so that it holds an idle keep-alive connection (and,
async, its event loop's state) when the children are forked; every gateway answer is
delayed 50 ms, so the children's requests overlap. Each run must get its own task's
output, no call may fail, and each job must create exactly one task.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from speedpix.testing import Emulator

from ._jobs import ECHO, asyncio_run_job, prompt, run_job

pytestmark = [
    pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork() is POSIX-only"),
    # Python 3.12+ warns that forking a process with threads (the emulator's) may deadlock.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

JOBS = 24
WORKERS = 6
FORK = multiprocessing.get_context("fork")

# Set in the parent before the pool forks; every child inherits it, as user code would.
_client: Any = None


def _sync_job(i: int) -> tuple[int, str, str]:
    return run_job(_client, i)


def _async_job(i: int) -> tuple[int, str, str]:
    return asyncio_run_job(_client, i)


def _with_pool(job: Callable[[int], tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    with FORK.Pool(WORKERS) as pool:
        return pool.map(job, range(JOBS))


def _with_executor(job: Callable[[int], tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    with ProcessPoolExecutor(WORKERS, mp_context=FORK) as executor:
        return list(executor.map(job, range(JOBS)))


async def _from_running_loop(job: Callable[[int], tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """Forked from inside a running event loop, with that loop's connections open."""
    loop = asyncio.get_running_loop()
    await _client.async_run(ECHO, {"prompt": "parent, async"})
    with ProcessPoolExecutor(WORKERS, mp_context=FORK) as executor:
        return list(await asyncio.gather(*(loop.run_in_executor(executor, job, i) for i in range(JOBS))))


def _check(emu: Emulator, results: list[tuple[int, str, str]], parent_runs: int) -> None:
    wrong = [(i, text) for i, text, _ in results if text != prompt(i)]
    assert wrong == [], f"runs that got another task's output: {wrong}"
    assert len({task for _, _, task in results}) == JOBS
    submitted = Counter(task.inputs["prompt"] for task in emu.tasks)
    assert all(submitted[prompt(i)] == 1 for i in range(JOBS)), submitted
    assert emu.stats.tasks_created == JOBS + parent_runs
    refused = [r for r in emu.requests if r.status is not None and r.status != 200]
    assert refused == []


@pytest.mark.parametrize("pool", [_with_pool, _with_executor], ids=["multiprocessing.Pool", "ProcessPoolExecutor"])
@pytest.mark.parametrize("job", [_sync_job, _async_job], ids=["sync", "async"])
def test_forked_children_get_their_own_outputs(
    emu: Emulator, pool: Callable[..., list[tuple[int, str, str]]], job: Callable[[int], tuple[int, str, str]]
) -> None:
    global _client
    emu.inject("/scc/*", "slow", count=10**6, delay=0.05)
    _client = emu.client(max_retries=0)  # a retry would hide a corrupted exchange
    try:
        assert _client.run(ECHO, {"prompt": "parent"})["text"] == "parent"
        asyncio.run(_client.async_run(ECHO, {"prompt": "parent, async"}))
        _check(emu, pool(job), parent_runs=2)
        # The parent's own connection came through untouched.
        assert _client.run(ECHO, {"prompt": "parent again"})["text"] == "parent again"
    finally:
        _client.close()
        _client = None


@pytest.mark.parametrize("job", [_sync_job, _async_job], ids=["sync", "async"])
def test_forked_from_a_running_event_loop(emu: Emulator, job: Callable[[int], tuple[int, str, str]]) -> None:
    global _client
    emu.inject("/scc/*", "slow", count=10**6, delay=0.05)
    _client = emu.client(max_retries=0)
    try:
        assert _client.run(ECHO, {"prompt": "parent"})["text"] == "parent"
        _check(emu, asyncio.run(_from_running_loop(job)), parent_runs=2)
    finally:
        _client.close()
        _client = None


def _api_job(task_id: str) -> str:
    from speedpix_api.api.predictions import comfy_get_progress
    from speedpix_api.models import TaskIdRequest

    reply = comfy_get_progress.sync(client=_client.api, body=TaskIdRequest(task_id=task_id))
    assert reply is not None
    return str(reply.data.task_id)


def test_forked_children_get_their_own_low_level_client(emu: Emulator) -> None:
    global _client
    emu.inject("/scc/*", "slow", count=10**6, delay=0.05)
    _client = emu.client(max_retries=0)
    try:
        ids = [_client.predictions.create(ECHO, {"prompt": prompt(i)}).id for i in range(JOBS)]
        assert _api_job(ids[0]) == ids[0]  # the parent's client.api holds a connection now
        with FORK.Pool(WORKERS) as pool:
            assert pool.map(_api_job, ids) == ids
    finally:
        _client.close()
        _client = None


def test_a_fork_while_the_default_client_lock_is_held_does_not_deadlock_the_child(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import time

    import speedpix

    monkeypatch.setenv("SPEEDPIX_APP_KEY", emu.app_key)
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", emu.app_secret)
    monkeypatch.setenv("SPEEDPIX_ENDPOINT", emu.endpoint)
    monkeypatch.setattr(speedpix, "_default_client", None)
    with speedpix._default_lock:  # as a parent's thread building the default client would
        pid = os.fork()
        if pid == 0:  # the child: must get its client, not wait for a lock no thread will release
            try:
                ok = speedpix.default_client().endpoint == emu.endpoint
            finally:
                os._exit(0 if ok else 1)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child deadlocked on the default client's lock")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
