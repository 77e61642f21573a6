"""Async gateway calls wait for one of ``max_connections`` permits before a request is
built: the server never sees more at once, none of them fails for it, and a wait longer
than the pool timeout is a typed timeout that says nothing was sent."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable

import httpx
import pytest

import speedpix
from speedpix import APITimeoutError

from ._hostile import Conn, Hostile, Request, progress, serve_each


class Concurrency:
    """How many requests the server holds at once, at most."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def answer(self, conn: Conn, request: Request) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self._lock:
            self.now -= 1
        conn.send(progress(request.json()["taskId"]))


def test_no_more_requests_in_flight_than_max_connections(hostile: Callable[..., Hostile]) -> None:
    held = Concurrency(hold=0.05)
    server = hostile(serve_each(held.answer))
    client = speedpix.Client("key", "secret", endpoint=server.url, max_connections=3, max_retries=0)

    async def main() -> list[speedpix.Prediction]:
        try:
            return await asyncio.gather(*(client.predictions.async_get(f"t{i}") for i in range(30)))
        finally:
            await client.aclose()

    predictions = asyncio.run(main())
    assert [p.id for p in predictions] == [f"t{i}" for i in range(30)]
    assert all(p.status == "running" for p in predictions)
    assert len(server.requests) == 30
    assert held.peak == 3


def test_waiting_longer_than_the_pool_timeout_is_a_timeout_before_sending(hostile: Callable[..., Hostile]) -> None:
    # One permit, each reply held 1.5 s, a 2 s timeout (its pool part too): the second
    # call waits 1.5 s and is sent; the third would wait 3 s and is never sent.
    held = Concurrency(hold=1.5)
    server = hostile(serve_each(held.answer))
    client = speedpix.Client("key", "secret", endpoint=server.url, max_connections=1, max_retries=0, timeout=2.0)

    async def main() -> list[speedpix.Prediction | BaseException]:
        try:
            return await asyncio.gather(
                *(client.predictions.async_get(f"t{i}") for i in range(3)), return_exceptions=True
            )
        finally:
            await client.aclose()

    # Which two of the three waiters get the permit is the event loop's scheduling (the
    # first call's setup runs off the loop): the test asserts the counts, not the order.
    outcomes = asyncio.run(main())
    sent = [o.id for o in outcomes if isinstance(o, speedpix.Prediction)]
    timed_out = [(f"t{i}", o) for i, o in enumerate(outcomes) if isinstance(o, APITimeoutError)]
    assert len(sent) == 2 and len(timed_out) == 1, outcomes
    task_id, error = timed_out[0]
    assert error.request_sent is False
    assert "no connection was free within 2.0 s" in str(error)
    assert sorted(r.json()["taskId"] for r in server.requests) == sorted(sent)
    assert task_id not in sent


@pytest.mark.parametrize("max_connections", [1, 4])
def test_a_cancelled_wait_gives_its_permit_back(hostile: Callable[..., Hostile], max_connections: int) -> None:
    held = Concurrency(hold=0.2)
    server = hostile(serve_each(held.answer))
    client = speedpix.Client("key", "secret", endpoint=server.url, max_connections=max_connections, max_retries=0)

    async def main() -> list[speedpix.Prediction]:
        try:
            waiting = [asyncio.ensure_future(client.predictions.async_get(f"c{i}")) for i in range(10)]
            await asyncio.sleep(0.05)
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            # Every permit is free again: as many calls as permits, at once, get one.
            async with asyncio.timeout(5):
                return await asyncio.gather(*(client.predictions.async_get(f"t{i}") for i in range(max_connections)))
        finally:
            await client.aclose()

    predictions = asyncio.run(main())
    assert [p.id for p in predictions] == [f"t{i}" for i in range(max_connections)]


def test_a_call_waiting_for_a_permit_has_built_no_request(hostile: Callable[..., Hostile]) -> None:
    held = Concurrency(hold=0.3)
    server = hostile(serve_each(held.answer))
    client = speedpix.Client("key", "secret", endpoint=server.url, max_connections=2, max_retries=0)

    def requests_alive() -> int:
        gc.collect()
        return sum(isinstance(o, httpx.Request) for o in gc.get_objects())

    async def main() -> int:
        try:
            before = requests_alive()  # whatever earlier tests left
            calls = asyncio.gather(*(client.predictions.async_get(f"t{i}") for i in range(12)))
            await asyncio.sleep(0.15)  # two requests held by the server, ten calls waiting
            built = requests_alive() - before
            await calls
            return built
        finally:
            await client.aclose()

    assert asyncio.run(main()) <= 2
    assert len(server.requests) == 12
