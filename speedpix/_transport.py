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
import json
import os
import ssl
import threading
import urllib.request
import weakref
from dataclasses import dataclass, field
from typing import Any

import httpx

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
    """What one event loop uses, each made on first use."""

    api: httpx.AsyncClient | None = None
    storage: httpx.AsyncClient | None = None
    gateway: AsyncGatewayTransport | None = None


class Transport:
    """Builds gateway requests; lazily built, thread-safe holder of the connections."""

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        self.signer = GatewaySigner(settings.app_key, settings.app_secret)
        self._lock = threading.Lock()
        self._ssl_lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None
        self._sync_api: httpx.Client | None = None
        self._sync_storage: httpx.Client | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()
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
        """The TLS context of every connection of this client (``verify`` applied), made
        once: loading a CA bundle takes tens of milliseconds of file I/O."""
        with self._ssl_lock:
            if self._ssl is None:
                verify = self.settings.verify
                if isinstance(verify, str):  # a CA bundle folder or file (httpx 0.28 deprecates paths)
                    if os.path.isdir(verify):
                        self._ssl = ssl.create_default_context(capath=verify)
                    else:
                        self._ssl = ssl.create_default_context(cafile=verify)
                else:
                    self._ssl = httpx.create_ssl_context(verify=verify)
            return self._ssl

    async def async_ssl_context(self) -> ssl.SSLContext:
        """:meth:`ssl_context`, made in a worker thread the first time: no file I/O on the loop."""
        return self._ssl if self._ssl is not None else await asyncio.to_thread(self.ssl_context)

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
        with self._lock:
            if self._sync_api is None:
                self._sync_api = httpx.Client(**self.api_client_args())
            return self._sync_api

    @property
    def sync_storage(self) -> httpx.Client:
        with self._lock:
            if self._sync_storage is None:
                self._sync_storage = httpx.Client(**self._storage_args())
            return self._sync_storage

    def _loop_state(self, *, api: bool = False, storage: bool = False, gateway: bool = False) -> _LoopState:
        """The running loop's state, with the parts asked for made if missing."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _LoopState()
            if api and state.api is None:
                state.api = httpx.AsyncClient(**self.api_client_args())
            if storage and state.storage is None:
                state.storage = httpx.AsyncClient(**self._storage_args())
            if gateway and state.gateway is None:
                state.gateway = AsyncGatewayTransport(
                    ssl_context=self.async_ssl_context,
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
        """Close the sync clients; async clients of loops that are gone are dropped."""
        with self._lock:
            clients = [c for c in (self._sync_api, self._sync_storage) if c is not None]
            self._sync_api = self._sync_storage = None
        for client in clients:
            client.close()

    async def aclose(self) -> None:
        """Close the async clients of the running loop (and the sync ones)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.pop(loop, None)
        if state is not None:
            for part in (state.api, state.storage, state.gateway):
                if part is not None:
                    await part.aclose()
        self.close()
