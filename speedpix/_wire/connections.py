"""The httpx clients of a SpeedPix client: signed for the gateway, unsigned for storage
(credentials never reach a storage host); sync on httpcore, async on aiohttp (thousands
of requests in flight); each process and each event loop with connections of its own."""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import httpx

from .._core.config import Config
from .._core.signing import GatewaySigner
from . import forksafe as _forksafe
from . import guards as _guards

# asyncio is imported where it is used: a sync-only program never loads it.
if TYPE_CHECKING:
    import asyncio


class _LoopState:
    """One event loop's async clients (by ``signed``) and its permits for gateway requests."""

    def __init__(self, max_requests: int) -> None:
        import asyncio

        self.clients: dict[bool, httpx.AsyncClient] = {}
        self.api_slots = asyncio.Semaphore(max_requests)
        # An async generator left at its yield: asyncio.run() (shutdown_asyncgens()) runs its
        # finally on the loop, so a client never closed, as in the README, leaves no socket.
        self.closer = self._close_at_exit()
        with contextlib.suppress(StopIteration):
            self.closer.asend(None).send(None)  # runs it to its yield: no suspension

    async def _close_at_exit(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            clients, self.clients = self.clients, {}
            for client in clients.values():
                await client.aclose()

    async def aclose(self) -> None:
        await self.closer.aclose()  # runs its finally, once: a second aclose() does nothing


class _APISlot:
    """A permit for one gateway request in flight on a loop, taken before the request is
    built: thousands of calls otherwise each hold their request while aiohttp's pool makes
    them wait. Waiting longer than ``pool_timeout`` is httpx's ``PoolTimeout``."""

    __slots__ = ("_pool_timeout", "_slots")

    def __init__(self, slots: asyncio.Semaphore, pool_timeout: float | None) -> None:
        self._slots = slots
        self._pool_timeout = pool_timeout

    async def __aenter__(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return
        import asyncio

        try:
            async with asyncio.timeout(self._pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"no connection was free within {self._pool_timeout} s") from None

    async def __aexit__(self, *exc_info: object) -> None:
        self._slots.release()


class _Pools:
    """A Transport's connections, apart from it (nothing here refers back to it) so that a
    finalizer closes them once it is collected, without a ResourceWarning per socket."""

    def __init__(self, verify: bool | str) -> None:
        self.verify = verify
        self.tls: ssl.SSLContext | None = None
        self.lock = threading.RLock()
        self.sync: dict[bool, httpx.Client] = {}
        self.loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
        _forksafe.track(self)

    def drop_inherited(self) -> object:
        inherited = (self.sync, dict(self.loops))
        self.lock = threading.RLock()  # a parent's thread may have held it at fork()
        self.sync, self.loops = {}, weakref.WeakKeyDictionary()
        return inherited

    def tls_context(self) -> ssl.SSLContext:
        """The TLS context of every connection, made once: loading CA files takes tens of ms."""
        with self.lock:
            if self.tls is None:
                if not isinstance(self.verify, str):
                    self.tls = httpx.create_ssl_context(verify=self.verify)
                elif os.path.isdir(self.verify):  # a CA folder or file (httpx 0.28 deprecates paths)
                    self.tls = ssl.create_default_context(capath=self.verify)
                else:
                    self.tls = ssl.create_default_context(cafile=self.verify)
            return self.tls

    def close_blocking(self) -> None:
        with self.lock:
            clients, self.sync = self.sync, {}
        for client in clients.values():
            client.close()

    def release(self) -> None:
        """Close everything, from any thread: a loop's clients close on that loop."""
        self.close_blocking()
        with self.lock:
            states = list(self.loops.items())
            self.loops.clear()
        for loop, state in states:
            with contextlib.suppress(RuntimeError):  # a closed loop's connections closed with it
                loop.call_soon_threadsafe(_start_aclose, loop, state)


def _start_aclose(loop: asyncio.AbstractEventLoop, state: _LoopState) -> None:
    _closing.add(task := loop.create_task(state.aclose()))
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks


class Transport:
    """The httpx clients of one SpeedPix client, made on first use; thread-safe."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.signer = GatewaySigner(config.app_key, config.app_secret)
        self._pools = _Pools(config.verify)
        # A client dropped without close(), or alive at exit, still closes its connections.
        weakref.finalize(self, self._pools.release)

    def _make(self, *, signed: bool, asynchronous: bool) -> httpx.Client | httpx.AsyncClient:
        c = self.config
        args: dict[str, Any] = {
            "headers": {"User-Agent": c.agent, "Accept-Encoding": "identity"},
            "verify": self._pools.tls_context(),
            "limits": httpx.Limits(max_connections=c.max_connections, max_keepalive_connections=c.max_connections),
            **(c.httpx_args or {}),
        }
        if signed:
            args.update(base_url=c.endpoint, timeout=c.request_timeout, auth=self.signer, follow_redirects=False)
        else:  # presigned storage URLs may redirect (to a CDN): nothing secret rides along
            args.update(timeout=c.transfer_timeouts, follow_redirects=True)
        args["event_hooks"] = _guards.event_hooks(args.get("event_hooks"), api=signed, asynchronous=asynchronous)
        if asynchronous:
            from .aio import AsyncClient  # aiohttp, a large import, once async code needs it

            return AsyncClient(**args)
        from .sync import SyncClient  # httpcore's pool, once sync code needs it

        return SyncClient(**args)

    def _client(self, *, signed: bool, asynchronous: bool) -> Any:
        """The sync client, or the running loop's, made if missing or closed."""
        with self._pools.lock:
            clients: dict[bool, Any] = self._loop_state().clients if asynchronous else self._pools.sync
            client = clients.get(signed)
            if client is None or client.is_closed:
                client = clients[signed] = self._make(signed=signed, asynchronous=asynchronous)
            return client

    @property
    def sync_api(self) -> httpx.Client:
        return self._client(signed=True, asynchronous=False)  # type: ignore[no-any-return]

    @property
    def sync_storage(self) -> httpx.Client:
        return self._client(signed=False, asynchronous=False)  # type: ignore[no-any-return]

    def _loop_state(self) -> _LoopState:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._pools.lock:
            state = self._pools.loops.get(loop)
            if state is None:
                state = self._pools.loops[loop] = _LoopState(self.config.max_connections)
            return state

    def api_slot(self, pool_timeout: float | None) -> _APISlot:
        """``async with``: one of the running loop's permits for a gateway request."""
        return _APISlot(self._loop_state().api_slots, pool_timeout)

    def async_api(self) -> httpx.AsyncClient:
        return self._client(signed=True, asynchronous=True)  # type: ignore[no-any-return]

    async def async_storage(self) -> httpx.AsyncClient:
        await self.prepare_async()
        return self._client(signed=False, asynchronous=True)  # type: ignore[no-any-return]

    async def prepare_async(self) -> None:
        """Make the TLS context off the event loop: no file I/O on it."""
        if self._pools.tls is None:
            import asyncio

            await asyncio.to_thread(self._pools.tls_context)

    def close(self) -> None:
        """Close the sync clients; a loop's async clients close with it, or by aclose()."""
        self._pools.close_blocking()

    async def aclose(self) -> None:
        """Close the async clients of the running loop (and the sync ones)."""
        import asyncio

        with self._pools.lock:
            state = self._pools.loops.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.aclose()
        self.close()
