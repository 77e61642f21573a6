"""``client.api``: the generated low-level client on a SpeedPix client's connections."""

from __future__ import annotations

import httpx

from speedpix_api import Client as GeneratedClient

from .connections import Transport


class SignedAPIClient(GeneratedClient):
    """The generated client on the transport's signed clients (this thread's sync one,
    the running loop's async one), made anew after ``close()`` or ``fork()``."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(base_url=transport.config.endpoint, raise_on_unexpected_status=False)
        self._transport = transport

    def get_httpx_client(self) -> httpx.Client:
        return self._transport.sync_api

    def get_async_httpx_client(self) -> httpx.AsyncClient:
        return self._transport.async_api()

    def __repr__(self) -> str:
        return f"SignedAPIClient(base_url={self._base_url!r})"
