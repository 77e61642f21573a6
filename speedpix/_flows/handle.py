"""The narrow handle through which resources and flows reach a client (as openai-python's
resources hold their client): nothing reads a :class:`~speedpix.Client`'s private attributes."""

from __future__ import annotations

import threading
import time
import weakref
from functools import cached_property
from typing import TypeVar

from speedpix_api import Client as GeneratedClient

from .._core import validate
from .._core.config import Config
from .._core.effects import Flow
from .._core.polling import EstimateTrust
from .._core.retry import CallSettings
from .._wire import drivers
from .._wire.connections import Transport
from .._wire.lowlevel import SignedAPIClient
from .uploads import Uploads

T = TypeVar("T")


class Handle:
    """A client's configuration, connections, learnt estimates and uploads, and the drivers."""

    def __init__(
        self,
        config: Config,
        transport: Transport | None = None,
        trust: EstimateTrust | None = None,
        uploads: Uploads | None = None,
    ) -> None:
        self.config = config
        self.transport = transport if transport is not None else Transport(config)
        # Shared by with_options() copies: which workflows' duration estimates proved
        # right, and which input contents were uploaded.
        self.trust = trust if trust is not None else EstimateTrust()
        self.uploads = uploads if uploads is not None else Uploads()

    def __reduce__(self) -> tuple[object, ...]:
        return (Handle, (self.config,))  # its configuration, with fresh connections

    def with_config(self, config: Config) -> Handle:
        """Other settings on the same connections."""
        return Handle(config, self.transport, self.trust, self.uploads)

    @cached_property
    def api(self) -> GeneratedClient:
        """The generated low-level client on these connections, signing its requests."""
        return SignedAPIClient(self.transport)

    def settings(self, timeout: float | None = None, *, wait: bool = False) -> CallSettings:
        """Settings of one call; ``timeout`` bounds it as a whole (retries included)."""
        overall = validate.positive("timeout", timeout, allow_none=True)
        if overall is None and wait:
            overall = self.config.wait_timeout
        return CallSettings(
            timeout=self.config.request_timeout,
            retry=self.config.retry_policy,
            deadline=None if overall is None else time.monotonic() + overall,
        )

    def run_sync(self, flow: Flow[T]) -> T:
        return drivers.run_sync(flow, self.transport)

    async def run_async(self, flow: Flow[T]) -> T:
        return await drivers.run_async(flow, self.transport)


# Kept while some output uses them; a dropped handle's connections close with it.
_storage: weakref.WeakValueDictionary[Config, Handle] = weakref.WeakValueDictionary()
_storage_lock = threading.Lock()


def storage_handle(config: Config | None = None) -> Handle:
    """The shared handle, without credentials, for ``config``'s download settings (default ones for ``None``)."""
    key = (config or Config(app_key="", app_secret="")).storage_only()
    with _storage_lock:
        handle = _storage.get(key)
        if handle is None:
            handle = _storage[key] = Handle(key)
        return handle
