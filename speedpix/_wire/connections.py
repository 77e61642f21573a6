"""How a SpeedPix client reaches the network: one httpx client per kind of call.

Sync calls go through ``httpx.Client`` (httpcore), async ones through ``httpx.AsyncClient``
on httpx-aiohttp's transport (aiohttp holds thousands of requests in flight where
httpcore's pool degrades), the same transport whatever the environment's proxies or the
caller's ``httpx_args``. Gateway clients sign every request (:class:`GatewaySigner` as
their ``auth``); storage clients (upload PUTs, output GETs) never do, so credentials
cannot reach a storage host. The protections a hostile reply calls for are wrapped
around the libraries in :mod:`.guards`, through their public APIs only: the client
classes (:mod:`.sync`, :mod:`.aio`) are made with httpx's ``transport=`` and ``mounts=``
(:mod:`.proxies`).

Connections belong to one process and, when async, to one event loop: a child after
``fork()`` and a second ``asyncio.run()`` get connections of their own.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from .._core.config import Config
from .._core.signing import GatewaySigner
from . import forksafe as _forksafe
from . import guards as _guards

if TYPE_CHECKING:
    import asyncio


class _TLSContext:
    """The TLS context of every connection of a client (``verify`` applied), made once:
    loading a CA bundle takes tens of milliseconds of file I/O."""

    def __init__(self, verify: bool | str) -> None:
        self._verify = verify
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        _forksafe.track(self)

    def drop_inherited(self) -> None:
        self._lock = threading.Lock()  # a parent's thread may have held it at fork()

    def get(self) -> ssl.SSLContext:
        with self._lock:
            if self._context is None:
                verify = self._verify
                if isinstance(verify, str):  # a CA bundle folder or file (httpx 0.28 deprecates paths)
                    if os.path.isdir(verify):
                        self._context = ssl.create_default_context(capath=verify)
                    else:
                        self._context = ssl.create_default_context(cafile=verify)
                else:
                    self._context = httpx.create_ssl_context(verify=verify)
            return self._context

    async def aget(self) -> ssl.SSLContext:
        """:meth:`get`, made in a worker thread the first time: no file I/O on the loop."""
        import asyncio

        return self._context if self._context is not None else await asyncio.to_thread(self.get)


C = TypeVar("C", httpx.Client, httpx.AsyncClient)


@dataclass
class _Pair(Generic[C]):
    """A signed gateway client and an unsigned storage client, each made on first use
    (and made again after ``close()``)."""

    api: C | None = None
    storage: C | None = None

    def get(self, *, signed: bool, make: Callable[[], C]) -> C:
        client = self.api if signed else self.storage
        if client is None or client.is_closed:
            client = make()
            if signed:
                self.api = client
            else:
                self.storage = client
        return client

    def take(self) -> list[C]:
        """The clients made so far, forgotten here (to be closed by the caller)."""
        clients = [client for client in (self.api, self.storage) if client is not None]
        self.api = self.storage = None
        return clients


@dataclass
class _LoopState:
    """The async clients of one event loop, made on that loop, and its permits for
    gateway requests in flight."""

    max_requests: int
    clients: _Pair[httpx.AsyncClient] = field(default_factory=_Pair)
    closer: AsyncGenerator[None, None] = field(init=False)
    api_slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        import asyncio

        self.api_slots = asyncio.Semaphore(self.max_requests)
        """Close these clients when their loop shuts down, if no one did before.

        ``asyncio.run()`` (any loop's ``shutdown_asyncgens()``) closes every async
        generator still open on the loop, while the loop still runs: ``closer`` is one,
        left suspended at its ``yield``, whose ``finally`` closes the clients. A client
        used in ``asyncio.run()`` and never closed, as in the README, so leaves no socket
        to the garbage collector (a ResourceWarning each)."""
        self.closer = self._close_at_exit()
        with contextlib.suppress(StopIteration):
            self.closer.asend(None).send(None)  # runs it to its yield: no suspension

    async def _close_at_exit(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self._close_parts()

    async def aclose(self) -> None:
        await self.closer.aclose()  # runs its finally, once: a second aclose() does nothing

    async def _close_parts(self) -> None:
        for client in self.clients.take():
            await client.aclose()


class _APISlot:
    """A permit for one gateway request in flight on an event loop, of
    ``max_connections``. A request waits for one before it is built, not after,
    holding nothing but its coroutine: thousands of calls at once otherwise each build
    their request and reply objects and keep them while aiohttp's pool makes them wait,
    and the garbage collector's time grows with them. Waiting longer than
    ``pool_timeout`` is httpx's ``PoolTimeout``: nothing was sent."""

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
    """The connections of one Transport, kept apart from it so that a finalizer can
    close them once the Transport is collected: left to the garbage collector, each
    socket would be closed with a ResourceWarning. Nothing in here may refer back to
    the Transport, or it would never be collected.

    After ``fork()`` the child starts empty: the parent's sockets are shared with the
    child, and a request written on one by both would interleave, or hand one process
    the other's reply. The inherited clients are dropped, never closed (closing would
    end the parent's connections too), and kept so the collector never closes them.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sync: _Pair[httpx.Client] = _Pair()
        self.loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
        _forksafe.track(self)

    def drop_inherited(self) -> object:
        """In a forked child: forget the parent's connections, unclosed (see _forksafe)."""
        inherited = (self.sync, dict(self.loops))
        self.lock = threading.Lock()
        self.sync = _Pair()
        self.loops = weakref.WeakKeyDictionary()
        return inherited

    def close_blocking(self) -> None:
        with self.lock:
            clients = self.sync.take()
        for client in clients:
            client.close()

    def release(self) -> None:
        """Close everything, from any thread: a loop's clients close on that loop."""
        self.close_blocking()
        with self.lock:
            states = list(self.loops.items())
            self.loops.clear()
        for loop, state in states:
            if not loop.is_closed():  # a closed loop's connections were closed with it
                with contextlib.suppress(RuntimeError):  # closed since
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
        self._tls = _TLSContext(config.verify)
        self._pools = _Pools()
        # A client dropped without close(), as in the README's examples, still closes
        # its connections; so does one alive at exit (the module-level default client).
        weakref.finalize(self, self._pools.release)

    # ------------------------------------------------------------ client arguments

    def _args(self, *, signed: bool, asynchronous: bool) -> dict[str, Any]:
        c = self.config
        args: dict[str, Any] = {
            "headers": {"User-Agent": c.agent, "Accept-Encoding": "identity"},
            "verify": self._tls.get(),
            "limits": httpx.Limits(max_connections=c.max_connections, max_keepalive_connections=c.max_connections),
            **(c.httpx_args or {}),
        }
        if signed:
            args.update(base_url=c.endpoint, timeout=c.request_timeout, auth=self.signer, follow_redirects=False)
        else:
            # Presigned storage URLs may redirect (e.g. to a CDN); following is safe because
            # nothing secret is attached to these requests.
            args.update(timeout=c.transfer_timeouts, follow_redirects=True)
        args["event_hooks"] = _guards.event_hooks(args.get("event_hooks"), api=signed, asynchronous=asynchronous)
        return args

    def _sync_client(self, *, signed: bool) -> httpx.Client:
        from .sync import SyncClient  # httpcore is imported when the first sync client is made

        return SyncClient(**self._args(signed=signed, asynchronous=False))

    def _async_client(self, *, signed: bool) -> httpx.AsyncClient:
        from .aio import AsyncClient  # aiohttp (a large import) when async code first needs it

        return AsyncClient(**self._args(signed=signed, asynchronous=True))

    # ------------------------------------------------------------ the clients

    def _sync(self, *, signed: bool) -> httpx.Client:
        with self._pools.lock:
            return self._pools.sync.get(signed=signed, make=lambda: self._sync_client(signed=signed))

    @property
    def sync_api(self) -> httpx.Client:
        return self._sync(signed=True)

    @property
    def sync_storage(self) -> httpx.Client:
        return self._sync(signed=False)

    def _loop_state(self) -> _LoopState:
        """The running loop's state, made if missing. The caller holds the lock."""
        import asyncio

        loop = asyncio.get_running_loop()
        state = self._pools.loops.get(loop)
        if state is None:
            state = self._pools.loops[loop] = _LoopState(self.config.max_connections)
        return state

    def _loop_client(self, *, signed: bool) -> httpx.AsyncClient:
        """The running loop's client, made if missing."""
        with self._pools.lock:
            return self._loop_state().clients.get(signed=signed, make=lambda: self._async_client(signed=signed))

    def api_slot(self, pool_timeout: float | None) -> _APISlot:
        """``async with``: one of the running loop's permits for a gateway request (see
        :class:`_APISlot`)."""
        with self._pools.lock:
            return _APISlot(self._loop_state().api_slots, pool_timeout)

    def async_api(self) -> httpx.AsyncClient:
        return self._loop_client(signed=True)

    async def async_storage(self) -> httpx.AsyncClient:
        """The running loop's storage client (its TLS context made off the loop)."""
        await self.prepare_async()
        return self._loop_client(signed=False)

    async def prepare_async(self) -> None:
        """Make what the first async client needs off the event loop: the TLS context."""
        await self._tls.aget()

    def close(self) -> None:
        """Close the sync clients; a loop's async clients close with it, or by aclose()."""
        self._pools.close_blocking()

    async def aclose(self) -> None:
        """Close the async clients of the running loop (and the sync ones)."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._pools.lock:
            state = self._pools.loops.pop(loop, None)
        if state is not None:
            await state.aclose()
        self.close()
