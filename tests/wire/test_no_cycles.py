"""A finished call leaves no reference cycles behind: everything it made is freed the
moment it is done, by reference counting alone.

Thousands of calls at once otherwise hand the garbage collector their request and
reply objects, which outlive its young generations while they wait and make every
full collection slower. The emulator runs in its own process here, so that whatever
garbage the server makes is not counted.
"""

from __future__ import annotations

import asyncio
import gc
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import speedpix


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    command = [sys.executable, "-m", "speedpix", "emulator", "--port", "0", "--app-key", "k", "--app-secret", "s"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as server:
        assert server.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:\d+", server.stdout.readline())
        assert match, "the emulator did not say where it serves"
        try:
            yield match.group(0)
        finally:
            server.terminate()


def garbage_of(calls: Callable[[], object]) -> Counter[str]:
    """The types of the objects that only the garbage collector freed during ``calls()``."""
    calls()  # first calls make what lasts (clients, connections, imported modules)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        calls()
        gc.collect()
        return Counter(type(o).__qualname__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_sync_runs_leave_no_cycles(endpoint: str, tmp_path: Path) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with speedpix.Client("k", "s", endpoint=endpoint) as client:

        def calls() -> None:
            for i in range(3):  # an upload, the task, the output saved
                output = client.run("demo-echo", {"image": image, "nested": {"list": [i, 2.5, None]}})
                output["images"]["url"].save(tmp_path / f"out{i}.png")
                assert (tmp_path / f"out{i}.png").read_bytes() == image.read_bytes()
            prediction = client.predictions.create("demo-txt2img", {"prompt": "x"})
            prediction.wait()
            client.predictions.get(prediction.id)

        assert garbage_of(calls) == Counter()


def test_async_runs_leave_no_cycles(endpoint: str) -> None:
    client = speedpix.Client("k", "s", endpoint=endpoint)
    runner = asyncio.Runner()

    async def many() -> None:
        inputs = [{"image": b"\x89PNG\r\n\x1a\n" + bytes([i]) * 64} for i in range(20)]
        outputs = await asyncio.gather(*(client.async_run("demo-echo", one) for one in inputs))
        read = await asyncio.gather(*(output["images"]["url"].async_read() for output in outputs))
        assert read == [one["image"] for one in inputs]
        prediction = await client.predictions.async_create("demo-txt2img", {"prompt": "x"})
        await prediction.async_wait()
        await client.predictions.async_get(prediction.id)

    try:
        found = garbage_of(lambda: runner.run(many()))
        # Not ours: asyncio's socket transport keeps a bound method of itself in its
        # __dict__, so each connection closed on the way (aiohttp closes one whose
        # request-writing task had not finished when the reply ended) is freed by the
        # collector: the transport, its dict, that method, the socket and its wrapper.
        closed = found.pop("_SelectorSocketTransport", 0)
        found.subtract({"dict": closed, "method": closed, "socket": closed, "TransportSocket": closed})
        assert +found == Counter()
        assert all(count >= 0 for count in found.values())
    finally:
        runner.run(client.aclose())
        runner.close()
