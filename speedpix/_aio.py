"""``httpx.AsyncClient`` on httpx-aiohttp's transport, with exact error types.

Imported only once async code runs: aiohttp is a large import. httpx-aiohttp maps
aiohttp's errors by their nearest mapped base class, so a server that hung up after
reading the request becomes ``httpx.ConnectTimeout`` — "never sent", which would make a
task submission look safe to repeat. Errors are mapped again here from their cause,
and the few aiohttp errors it leaves unmapped (a malformed reply head) become httpx's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


def _mapped(error: BaseException) -> httpx.TransportError:
    cause = error.__cause__ if isinstance(error, httpx.TransportError) and error.__cause__ else error
    message = str(cause) or type(cause).__name__
    if isinstance(cause, aiohttp.ConnectionTimeoutError):  # no connection (in time): nothing sent
        return httpx.ConnectTimeout(message)
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(cause, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(cause, aiohttp.ClientPayloadError | aiohttp.ClientConnectionError):
        return httpx.ReadError(message)
    if isinstance(cause, httpx.TransportError):
        return cause
    return httpx.RemoteProtocolError(message)  # e.g. a reply head aiohttp could not parse


class _Stream(httpx.AsyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except (httpx.TransportError, aiohttp.ClientError) as error:
            raise _mapped(error) from error

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Transport(AiohttpTransport):
    def get_client(self) -> aiohttp.ClientSession:
        session = super().get_client()
        # aiohttp silently repeats a GET or PUT once when a kept-alive connection turns out
        # closed. Retries are decided in one place (speedpix._retry), the same for sync and
        # async calls; aiohttp has no parameter for this.
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError) as error:
            raise _mapped(error) from error
        response.stream = _Stream(response.stream)
        return response


class AsyncClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` on aiohttp, direct and through proxies."""

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        transport: httpx.AsyncBaseTransport | None = kwargs.pop("transport", None)
        return transport if transport is not None else _Transport(*args, **kwargs)

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return _Transport(*args, **kwargs)
