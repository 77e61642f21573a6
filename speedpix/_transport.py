"""How a SpeedPix client reaches the network: gateway requests, and the httpx clients.

Gateway requests are built and signed here, whole (:meth:`Transport.api_request`), and
sent by the blocking driver through an ``httpx.Client`` and by the asyncio driver
through :class:`AsyncGatewayTransport` (or, when the user configured httpx themselves or
the environment names a proxy, through an ``httpx.AsyncClient``). Storage requests
(upload PUTs, output GETs) go through clients of their own that never sign, so
credentials cannot leak to a storage host. Async state is kept per event loop: an
asyncio connection belongs to the loop that opened it, and one reused under a second
``asyncio.run()`` would fail with "Event loop is closed".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import threading
import urllib.request
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import _forksafe
from ._gateway_transport import AsyncGatewayTransport
from ._signing import STRING_TO_SIGN_EXTENSION, GatewaySigner

# Storage transfers can be long: a generous read/write timeout applies per chunk, not to
# the whole transfer, so a 1 GB video is fine as long as bytes keep moving.
DEFAULT_TRANSFER_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=120.0, pool=60.0)


def api_timeout(seconds: float) -> httpx.Timeout:
    """The gateway timeout for a ``timeout=`` in seconds: connecting gets at most 10 s."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


@dataclass
class TransportSettings:
    endpoint: str
    app_key: str
    app_secret: str = field(repr=False)
    timeout: httpx.Timeout
    transfer_timeout: httpx.Timeout
    user_agent: str
    verify: bool | str
    max_connections: int = 100
    extra_httpx_args: dict[str, Any] = field(default_factory=dict)


# What the generated operations' _get_kwargs() may hold, and api_request() sends.
_REQUEST_KWARGS = frozenset({"method", "url", "json", "headers"})


@dataclass
class _LoopState:
    """What one event loop uses, each made on first use. Made on that loop's thread."""

    api: httpx.AsyncClient | None = None
    storage: httpx.AsyncClient | None = None
    gateway: AsyncGatewayTransport | None = None
    closer: AsyncGenerator[None, None] = field(init=False)

    def __post_init__(self) -> None:
        """Close these connections when their loop shuts down, if no one did before.

        ``asyncio.run()`` (any loop's ``shutdown_asyncgens()``) closes every async
        generator still open on the loop, while the loop still runs: ``closer`` is one,
        left suspended at its ``yield``, whose ``finally`` closes the connections. A
        client used in ``asyncio.run()`` and never closed, as in the README, so leaves
        no socket to the garbage collector (a ResourceWarning each)."""
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
        parts = (self.api, self.storage, self.gateway)
        self.api = self.storage = self.gateway = None
        for part in parts:
            if part is not None:
                await part.aclose()


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
        return self._context if self._context is not None else await asyncio.to_thread(self.get)


class _Pools:
    """The connections of one Transport, kept apart from it so that a finalizer can
    close them once the Transport is collected: left to the garbage collector, each
    socket would be closed with a ResourceWarning. Nothing in here may refer back to
    the Transport, or it would never be collected."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sync_api: httpx.Client | None = None
        self.sync_storage: httpx.Client | None = None
        self.loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
        _forksafe.track(self)

    def drop_inherited(self) -> object:
        """In a forked child: forget the parent's connections, unclosed (see _forksafe)."""
        inherited = (self.sync_api, self.sync_storage, dict(self.loops))
        self.lock = threading.Lock()
        self.sync_api = self.sync_storage = None
        self.loops = weakref.WeakKeyDictionary()
        return inherited

    def close_blocking(self) -> None:
        with self.lock:
            clients = [c for c in (self.sync_api, self.sync_storage) if c is not None]
            self.sync_api = self.sync_storage = None
        for client in clients:
            client.close()

    def release(self) -> None:
        """Close everything, from any thread: a loop's connections close on that loop."""
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
    """Builds gateway requests; lazily built, thread-safe holder of the connections."""

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        self.signer = GatewaySigner(settings.app_key, settings.app_secret)
        self._tls = _TLSContext(settings.verify)
        self._pools = _Pools()
        # A client dropped without close(), as in the README's examples, still closes
        # its connections; so does one alive at exit (the module-level default client).
        weakref.finalize(self, self._pools.release)
        # path -> (URL, its path, its query, its Host header), parsed once
        self._targets: dict[str, tuple[httpx.URL, str, str, str]] = {}
        # Sent on every gateway request; headers given in httpx_args too, as an httpx
        # client would add them.
        self._base_headers = {"user-agent": settings.user_agent}
        for name, value in dict(settings.extra_httpx_args.get("headers") or {}).items():
            self._base_headers[name.lower()] = value
        # httpx's own client is kept for async gateway calls whenever the user configured
        # it (httpx_args: hooks, transports, certificates...) or a proxy may apply, so
        # that those settings keep working; otherwise AsyncGatewayTransport carries them.
        self._lean_async = not settings.extra_httpx_args and not urllib.request.getproxies()

    # ------------------------------------------------------------ gateway requests

    def api_request(self, kwargs: dict[str, Any], timeout: httpx.Timeout) -> httpx.Request:
        """The signed request for a generated operation's ``_get_kwargs()``.

        Built whole, not by an httpx client (a tenth of the CPU): the URL is parsed once
        per path, the JSON body encoded as httpx encodes ``json=``, and every header set
        at once. Every call signs anew (fresh nonce and timestamp): build one per attempt.
        """
        for key in kwargs:
            if key not in _REQUEST_KWARGS:  # the spec gained something this builder does not send yet
                raise TypeError(f"cannot build a gateway request with {key!r}")
        path: str = kwargs["url"]
        target = self._targets.get(path)
        if target is None:
            url = httpx.URL(self.settings.endpoint + path)
            target = self._targets[path] = (url, url.path, url.query.decode("ascii"), url.netloc.decode("ascii"))
        url, url_path, url_query, host = target
        body = b""
        if "json" in kwargs:
            body = json.dumps(kwargs["json"], ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        method = kwargs["method"].upper()
        signed, to_sign = self.signer.signature_headers(
            method=method, url_path=url_path, url_query=url_query, body=body
        )
        headers = {"host": host, "content-length": str(len(body)), **self._base_headers}
        for name, value in kwargs.get("headers", {}).items():
            headers[name.lower()] = value
        headers.update(signed)  # the signed Accept and Content-Type win over the operation's
        request = httpx.Request(
            method,
            url,
            headers=headers,
            stream=httpx.ByteStream(body),  # with content=, httpx would rebuild the headers twice
            extensions={"timeout": timeout.as_dict(), STRING_TO_SIGN_EXTENSION: to_sign},
        )
        request.read()
        return request

    def send_api(self, request: httpx.Request) -> httpx.Response:
        """Send a request of :meth:`api_request` (already signed) and read its response."""
        return self.sync_api.send(request, auth=None)

    async def async_send_api(self, request: httpx.Request) -> httpx.Response:
        """Send a request of :meth:`api_request` (already signed) and read its response."""
        if not self._lean_async:
            await self.async_ssl_context()  # made off the loop before the client needs it
            return await self._loop_state(api=True).api.send(request, auth=None)  # type: ignore[union-attr]
        gateway = self._loop_state(gateway=True).gateway
        assert gateway is not None
        response = await gateway.handle_async_request(request)
        await response.aread()
        return response

    # ------------------------------------------------------------ httpx clients

    def ssl_context(self) -> ssl.SSLContext:
        return self._tls.get()

    async def async_ssl_context(self) -> ssl.SSLContext:
        return await self._tls.aget()

    def _common_args(self) -> dict[str, Any]:
        s = self.settings
        return {
            "headers": {"User-Agent": s.user_agent},
            "verify": self.ssl_context(),
            "limits": httpx.Limits(max_connections=s.max_connections, max_keepalive_connections=s.max_connections),
            "follow_redirects": False,
            **s.extra_httpx_args,
        }

    def api_client_args(self) -> dict[str, Any]:
        """Arguments of a signed gateway client (also used to build ``client.api``)."""
        return {
            **self._common_args(),
            "base_url": self.settings.endpoint,
            "timeout": self.settings.timeout,
            "auth": self.signer,
        }

    def _storage_args(self) -> dict[str, Any]:
        # Presigned storage URLs may redirect (e.g. to a CDN); following is safe because
        # nothing secret is attached to these requests.
        return {**self._common_args(), "timeout": self.settings.transfer_timeout, "follow_redirects": True}

    @property
    def sync_api(self) -> httpx.Client:
        pools = self._pools
        with pools.lock:
            if pools.sync_api is None:
                pools.sync_api = httpx.Client(**self.api_client_args())
            return pools.sync_api

    @property
    def sync_storage(self) -> httpx.Client:
        pools = self._pools
        with pools.lock:
            if pools.sync_storage is None:
                pools.sync_storage = httpx.Client(**self._storage_args())
            return pools.sync_storage

    def _loop_state(self, *, api: bool = False, storage: bool = False, gateway: bool = False) -> _LoopState:
        """The running loop's state, with the parts asked for made if missing."""
        loop = asyncio.get_running_loop()
        pools = self._pools
        with pools.lock:
            state = pools.loops.get(loop)
            if state is None:
                state = pools.loops[loop] = _LoopState()
            if api and state.api is None:
                state.api = httpx.AsyncClient(**self.api_client_args())
            if storage and state.storage is None:
                state.storage = httpx.AsyncClient(**self._storage_args())
            if gateway and state.gateway is None:
                state.gateway = AsyncGatewayTransport(
                    ssl_context=self._tls.aget,  # not a method of self: see _Pools
                    max_connections=self.settings.max_connections,
                )
            return state

    async def async_storage(self) -> httpx.AsyncClient:
        """The running loop's storage client (given the TLS context, made off the loop)."""
        await self.async_ssl_context()
        storage = self._loop_state(storage=True).storage
        assert storage is not None
        return storage

    def close(self) -> None:
        """Close the sync clients; a loop's async clients close with it, or by aclose()."""
        self._pools.close_blocking()

    async def aclose(self) -> None:
        """Close the async clients of the running loop (and the sync ones)."""
        loop = asyncio.get_running_loop()
        with self._pools.lock:
            state = self._pools.loops.pop(loop, None)
        if state is not None:
            await state.aclose()
        self.close()
