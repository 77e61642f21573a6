"""The asyncio transport of gateway calls: lean HTTP/1.1 keep-alive connections.

Why not httpx's default transport: with hundreds of tasks in flight, httpcore's pool
rescans every connection on each request start and end (and asks each idle one, through
anyio, whether its socket is readable), which made the client CPU-bound at a few
milliseconds per request (docs/benchmarks.md). Gateway calls are small JSON exchanges,
so this transport keeps only what they need: :mod:`._http11` for the protocol, an
``asyncio.Protocol`` per connection for the I/O, and a pool that is a stack of idle
connections behind a semaphore. A connection that the server closes, or writes to out
of turn, while idle is dropped the moment asyncio reports it, so no request has to probe
its connection first.

It implements ``httpx.AsyncBaseTransport``: requests and responses are httpx's, and each
failure is the httpx exception the default transport raises for it, so retries and
error mapping cannot tell the two apart. Responses are read whole before they are
returned (gateway replies are small).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable

import httpx

from ._http11 import ProtocolError, ResponseParser, encode_request

Origin = tuple[bytes, bytes, int]  # scheme, host, port

_DEFAULT_PORTS = {b"http": 80, b"https": 443}


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Connection(asyncio.Protocol):
    """One keep-alive connection. The asyncio callbacks only record what happened; the
    coroutine running the exchange reads it and decides."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser: ResponseParser | None = None  # set while an exchange runs
        self.lost = False
        self.idle_since = 0.0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol callbacks --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.parser is None:  # the server spoke out of turn on an idle connection
            self.close()
            return
        self.parser.receive(data)
        self._wake()

    def eof_received(self) -> None:
        self.lost = True
        if self.parser is not None:
            self.parser.receive_eof()
        self._wake()  # returning None closes the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof_received()
        self._paused = False

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    # -- helpers ---------------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float | None) -> None:
        """Wait for the next callback; raises TimeoutError after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()

    # -- one request -----------------------------------------------------------------------

    async def exchange(self, request: httpx.Request, timeouts: dict[str, float | None]) -> tuple[httpx.Response, bool]:
        """Send ``request``, read its whole response; also whether the connection may be reused."""
        parser = self.parser = ResponseParser(head_request=request.method == "HEAD")
        try:
            data = encode_request(
                request.method.encode("ascii"), request.url.raw_path, request.headers.raw, await request.aread()
            )
        except ProtocolError as error:
            raise httpx.LocalProtocolError(str(error), request=request) from None
        if self.lost or self.transport is None:
            raise httpx.WriteError("the connection was closed before the request was sent", request=request)
        self.transport.write(data)
        try:
            while self._paused and not self.lost:  # a large body: wait for the socket to drain
                await self._wait(timeouts.get("write"))
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request", request=request) from None

        read_timeout = timeouts.get("read")
        while True:
            try:
                response = parser.next_response()
            except ProtocolError as error:
                raise httpx.RemoteProtocolError(str(error), request=request) from None
            if response is not None:
                break
            try:
                await self._wait(read_timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for the response", request=request) from None
        self.parser = None
        reusable = response.keep_alive and parser.clean and not self.lost
        return (
            httpx.Response(
                response.status,
                headers=response.headers,
                stream=httpx.ByteStream(response.body),
                extensions={"http_version": response.http_version, "reason_phrase": response.reason},
                request=request,
            ),
            reusable,
        )


async def _default_ssl_context() -> ssl.SSLContext:
    # Reading the CA bundle is blocking file I/O: not on the event loop.
    return await asyncio.to_thread(httpx.create_ssl_context)


class AsyncGatewayTransport(httpx.AsyncBaseTransport):
    """At most ``max_connections`` requests in flight, each on its own connection; idle
    connections are reused newest first and closed after ``keepalive_expiry`` seconds
    unused (httpx's default). ``ssl_context`` gives the TLS context, asked for on the
    first https connection (loading a CA bundle takes tens of milliseconds)."""

    def __init__(
        self,
        *,
        ssl_context: Callable[[], Awaitable[ssl.SSLContext]] = _default_ssl_context,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._get_ssl_context = ssl_context
        self.ssl_context: ssl.SSLContext | None = None  # once asked for
        self._slots = asyncio.Semaphore(max(max_connections, 1))
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        origin = (scheme, url.raw_host, url.port or _DEFAULT_PORTS[scheme])
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        await self._acquire_slot(request, timeouts.get("pool"))
        try:
            connection = self._pop_idle(origin) or await self._connect(origin, request, timeouts.get("connect"))
            try:
                response, reusable = await connection.exchange(request, timeouts)
            except BaseException:
                connection.close()  # its state is unknown: never reuse it
                raise
            if reusable and not self._closed:
                connection.idle_since = time.monotonic()
                self._idle.setdefault(origin, []).append(connection)
            else:
                connection.close()
            return response
        finally:
            self._slots.release()

    async def _acquire_slot(self, request: httpx.Request, timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: returns without suspending
            return
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("timed out waiting for a free connection", request=request) from None

    def _pop_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.lost and now - connection.idle_since < self._keepalive_expiry:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, request: httpx.Request, timeout: float | None) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls = None
        if scheme == b"https":
            if self.ssl_context is None:
                self.ssl_context = await self._get_ssl_context()
            tls = self.ssl_context
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    _Connection, host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request) from None
        except OSError as error:  # ssl.SSLError is an OSError
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {error}", request=request) from None
        return connection

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
