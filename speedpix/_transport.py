"""The httpx clients behind a SpeedPix client: one pool for the gateway, one for storage.

The gateway pool signs every request; the storage pool (upload PUTs, output GETs) never
does, so credentials cannot leak to a storage host. Async clients are kept per event
loop: an ``httpx.AsyncClient``'s connections belong to the loop that opened them, and
a client reused under a second ``asyncio.run()`` would fail with "Event loop is closed".
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._signing import GatewaySigner

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


class Transport:
    """Lazily built, thread-safe holders of the sync and per-loop async httpx clients."""

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        self.signer = GatewaySigner(settings.app_key, settings.app_secret)
        self._lock = threading.Lock()
        self._sync_api: httpx.Client | None = None
        self._sync_storage: httpx.Client | None = None
        self._async: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, httpx.AsyncClient]
        ] = weakref.WeakKeyDictionary()
        self._api_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _common_args(self) -> dict[str, Any]:
        s = self.settings
        return {
            "headers": {"User-Agent": s.user_agent},
            "verify": s.verify,
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

    def _async_pair(self) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        loop = asyncio.get_running_loop()
        with self._lock:
            pair = self._async.get(loop)
            if pair is None:
                pair = (
                    httpx.AsyncClient(**self.api_client_args()),
                    httpx.AsyncClient(**self._storage_args()),
                )
                self._async[loop] = pair
            return pair

    @property
    def async_api(self) -> httpx.AsyncClient:
        return self._async_pair()[0]

    @property
    def async_storage(self) -> httpx.AsyncClient:
        return self._async_pair()[1]

    @property
    def async_api_slots(self) -> asyncio.Semaphore:
        """At most ``max_connections`` gateway requests in flight per event loop.

        Requests beyond the pool's size would queue inside httpcore, whose pool rescans
        every queued request against every connection on each request start and end:
        with hundreds of tasks in flight that scan costs more than the requests. Waiting
        here instead is O(1).
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            slots = self._api_slots.get(loop)
            if slots is None:
                slots = self._api_slots[loop] = asyncio.Semaphore(max(self.settings.max_connections, 1))
            return slots

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
            pair = self._async.pop(loop, None)
        if pair is not None:
            for client in pair:
                await client.aclose()
        self.close()
