"""Fixtures of the wire tests: hostile loopback servers, and one public API for both drivers.

``api`` is parametrized over the sync and the async driver: a test calls
``api.get(...)``, ``api.run(...)``, ``api.wait(...)`` once and runs against both. The
async twin runs every call on one event loop (``asyncio.Runner``), so two calls of a
test share the client's kept-alive connections exactly as two awaits in one
``asyncio.run()`` would.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import speedpix
from speedpix import Prediction

from ._hostile import Handler, Hostile


class Api:
    """The public calls a test makes, on one client, through one driver."""

    def __init__(self, kind: str, client: speedpix.Client) -> None:
        self.kind = kind
        self.client = client
        self._runner = asyncio.Runner() if kind == "async" else None

    def get(self, task_id: str) -> Prediction:
        if self._runner is None:
            return self.client.predictions.get(task_id)
        return self._runner.run(self.client.predictions.async_get(task_id))

    def run(self, workflow_id: str, input: Any = None, **kwargs: Any) -> Any:
        if self._runner is None:
            return self.client.run(workflow_id, input, **kwargs)
        return self._runner.run(self.client.async_run(workflow_id, input, **kwargs))

    def wait(self, prediction: Prediction, **kwargs: Any) -> Prediction:
        if self._runner is None:
            return prediction.wait(**kwargs)
        return self._runner.run(prediction.async_wait(**kwargs))

    def pause(self, seconds: float) -> None:
        """Let ``seconds`` pass between calls, the async twin's event loop running."""
        if self._runner is None:
            time.sleep(seconds)
        else:
            self._runner.run(asyncio.sleep(seconds))

    def close(self) -> None:
        if self._runner is None:
            self.client.close()
            return
        try:
            self._runner.run(self.client.aclose())
        finally:
            self._runner.close()


Connect = Callable[..., Api]


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Iterator[Connect]:
    """``api(server, **client_kwargs)``: a client of ``server`` through this test's driver."""
    made: list[Api] = []

    def connect(server: Hostile | str, **kwargs: Any) -> Api:
        endpoint = server if isinstance(server, str) else server.url
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("retry_delay", 0.01)
        made.append(Api(request.param, speedpix.Client("hostile-key", "hostile-secret", endpoint=endpoint, **kwargs)))
        return made[-1]

    yield connect
    for one in made:
        one.close()


@pytest.fixture
def hostile() -> Iterator[Callable[[Handler], Hostile]]:
    """``hostile(handler)``: a started hostile server, closed after the test."""
    servers: list[Hostile] = []

    def start(handler: Handler) -> Hostile:
        servers.append(Hostile(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@dataclass
class Measured:
    error: BaseException | None
    seconds: float
    peak_mib: float  # peak of the memory Python allocated during the call (tracemalloc)


def measure(call: Callable[[], object]) -> Measured:
    """Run ``call``, catching what it raises, with its duration and peak memory."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.monotonic()
    error: BaseException | None = None
    try:
        call()
    except Exception as exc:
        error = exc
    finally:
        seconds = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return Measured(error, seconds, peak / (1 << 20))
