"""A client's connections end with it: closed, dropped, or left to asyncio.run().

The README's examples never close their client. Whatever way a client ends, its
connections must close (the emulator counts them) without a socket being left to the
garbage collector, which closes it with a ResourceWarning.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from speedpix.testing import Emulator
from tests._wait import eventually

PROMPT = {"prompt": "a cat", "width": 16, "height": 16}

# Lean async transport, and httpx's own client (which any httpx_args select).
ASYNC_KINDS = {"lean": {}, "httpx": {"httpx_args": {"headers": {"X-Test": "1"}}}}


Warnings = Callable[[], list[str]]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def resource_warnings() -> Iterator[Warnings]:
    """A function: the ResourceWarnings raised so far in the test, after collecting its
    garbage. Garbage of earlier tests is collected first, so that it is not counted."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)

        def so_far() -> list[str]:
            gc.collect()
            return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]

        yield so_far


async def async_eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    # As eventually(), letting the loop run: an asyncio socket closes on its loop.
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def use(client: Any) -> None:
    """A gateway call and a storage download, so that both kinds of pool hold a connection."""
    output = client.run("demo-txt2img", PROMPT)
    assert output["images"]["url"].read().startswith(b"\x89PNG")


async def async_use(client: Any) -> None:
    output = await client.async_run("demo-txt2img", PROMPT)
    assert (await output["images"]["url"].async_read()).startswith(b"\x89PNG")


def test_close_and_the_context_manager_close_every_connection(emu: Emulator, resource_warnings: Warnings) -> None:
    with emu.client() as client:
        use(client)
        assert emu.open_connections == 2  # gateway and storage, each kept alive
    assert eventually(lambda: emu.open_connections == 0)

    async def main() -> None:
        async with emu.client() as client:
            await async_use(client)
            assert emu.open_connections == 2
        assert await async_eventually(lambda: emu.open_connections == 0)

    asyncio.run(main())
    assert resource_warnings() == []


def test_a_blocking_client_dropped_without_close_closes_its_connections(
    emu: Emulator, resource_warnings: Warnings
) -> None:
    client = emu.client()
    use(client)
    assert emu.open_connections == 2
    del client
    gc.collect()
    assert eventually(lambda: emu.open_connections == 0)
    assert resource_warnings() == []


@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_a_client_never_closed_in_asyncio_run_closes_with_the_loop(
    kind: str, emu: Emulator, resource_warnings: Warnings
) -> None:
    # As the README's async example does it: the client lives on after the loop.
    client = emu.client(**ASYNC_KINDS[kind])

    async def main() -> None:
        await async_use(client)
        assert emu.open_connections == 2

    asyncio.run(main())
    assert eventually(lambda: emu.open_connections == 0)
    asyncio.run(main())  # a second loop gets new connections, closed in turn
    assert eventually(lambda: emu.open_connections == 0)
    assert resource_warnings() == []
    use(client)  # the client itself is still usable
    client.close()


@pytest.mark.parametrize("kind", ASYNC_KINDS)
def test_an_async_client_dropped_while_its_loop_runs_closes_on_that_loop(
    kind: str, emu: Emulator, resource_warnings: Warnings
) -> None:
    async def main() -> None:
        client = emu.client(**ASYNC_KINDS[kind])
        await async_use(client)
        assert emu.open_connections == 2
        del client
        gc.collect()
        assert await async_eventually(lambda: emu.open_connections == 0)  # closed on this loop

    asyncio.run(main())
    assert resource_warnings() == []


def test_aclose_then_the_loop_end_close_once(emu: Emulator, resource_warnings: Warnings) -> None:
    errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
        client = emu.client()
        await async_use(client)
        await client.aclose()
        assert await async_eventually(lambda: emu.open_connections == 0)
        await async_use(client)  # reopens on this loop, to be closed at its end
        assert emu.open_connections == 2

    asyncio.run(main())
    assert eventually(lambda: emu.open_connections == 0)
    assert errors == []
    assert resource_warnings() == []
