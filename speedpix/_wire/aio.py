"""``httpx.AsyncClient`` on httpx-aiohttp's transport, with exact error types.

Imported only once async code runs: aiohttp is a large import. httpx-aiohttp maps
aiohttp's errors by their nearest mapped base class, so a server that hung up after
reading the request becomes ``httpx.ConnectTimeout`` — "never sent", which would make a
task submission look safe to repeat. Errors are mapped again here from their cause,
and the few aiohttp errors it leaves unmapped (a malformed reply head) become httpx's.

A kept-alive connection with bytes that no request asked for is never reused: aiohttp
would parse them with the previous request's parser and hand them to the next request
as its reply (a forged reply sent after a real one, while the connection idles).
"""

from __future__ import annotations

import asyncio
import functools
import select
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from aiohttp.client_proto import ResponseHandler
from httpx_aiohttp import AiohttpTransport

from .guards import LeanClient


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

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = self._inner.__aiter__()
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk: bytes = await self._chunks.__anext__()
        except (httpx.TransportError, aiohttp.ClientError) as error:
            raise _mapped(error) from error
        return chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _readable(sock: Any) -> bool:
    """Whether a socket has bytes (or an EOF) waiting to be read."""
    fileno = sock.fileno()
    if fileno < 0:
        return True
    if hasattr(select, "poll"):  # select() fails on descriptors past FD_SETSIZE
        poller = select.poll()
        poller.register(fileno, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fileno], [], [], 0)[0])


class _Protocol(ResponseHandler):
    """aiohttp's connection protocol, refusing bytes that arrive between replies."""

    _idle = False  # the last reply is complete and no request was started since
    _final = False  # the last message parsed is a final reply (not an informational 1xx)

    def is_connected(self) -> bool:
        """What aiohttp asks before reusing a kept-alive connection: not when bytes
        wait on it unread (httpcore asks the same), e.g. arrived while the loop was busy."""
        if not super().is_connected():
            return False
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        return sock is None or not (self._idle and _readable(sock))

    def set_response_params(self, **kwargs: Any) -> None:
        self._idle = self._final = False  # aiohttp calls this for every request, before writing it
        super().set_response_params(**kwargs)

    def feed_data(self, data: Any, size: int = 0) -> None:
        message = data[0]  # each parsed message, as (message, payload)
        self._final = not 100 <= message.code < 200
        super().feed_data(data, size)

    def data_received(self, data: bytes) -> None:
        if self._idle and data:
            # Nobody asked for these bytes, so they cannot be a reply: the connection
            # is closed (no longer connected, aiohttp never reuses it).
            self.force_close()
            if self.transport is not None:
                self.transport.close()
            return
        super().data_received(data)
        payload = self._payload
        self._idle = self._final and payload is not None and payload.is_eof()


class _Transport(AiohttpTransport):
    def get_client(self) -> aiohttp.ClientSession:
        session = super().get_client()
        # aiohttp has no parameter for its connections' protocol either.
        session.connector._factory = functools.partial(_Protocol, loop=asyncio.get_running_loop())  # type: ignore[union-attr]
        # aiohttp silently repeats a GET or PUT once when a kept-alive connection turns out
        # closed. Retries are decided in one place (speedpix._core.retry), the same for sync and
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


class AsyncClient(LeanClient, httpx.AsyncClient):
    """``httpx.AsyncClient`` on aiohttp, direct and through proxies, keeping no cookies."""

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        transport: httpx.AsyncBaseTransport | None = kwargs.pop("transport", None)
        return transport if transport is not None else _Transport(*args, **kwargs)

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        return _Transport(*args, **kwargs)
