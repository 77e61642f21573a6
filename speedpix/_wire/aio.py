"""``httpx.AsyncClient`` on httpx-aiohttp's transport, with exact error types: httpx-aiohttp
makes a server that hung up after reading the request ``ConnectTimeout`` ("never sent"),
which would make a task submission look safe to repeat."""

from __future__ import annotations

import base64
import functools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from .guards import LeanClient
from .proxies import TransportOptions, client_args

# aiohttp's errors and httpx's for them, most specific first.
_ERRORS: tuple[tuple[Any, type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # no connection (in time): nothing sent
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerTimeoutError | TimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientPayloadError | aiohttp.ClientConnectionError, httpx.ReadError),
)


def _mapped(error: BaseException) -> httpx.TransportError:
    cause = error.__cause__ if isinstance(error, httpx.TransportError) and error.__cause__ else error
    if isinstance(cause, httpx.TransportError):
        return cause
    # Unmapped: e.g. a reply head aiohttp could not parse.
    ours = next((ours for theirs, ours in _ERRORS if isinstance(cause, theirs)), httpx.RemoteProtocolError)
    return ours(str(cause) or type(cause).__name__)


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


def _session(options: TransportOptions) -> aiohttp.ClientSession:
    """A transport's aiohttp session, on the client's limits and TLS context, keeping no cookies."""
    connector = aiohttp.TCPConnector(
        limit=options.limits.max_connections or 0,  # 0: no limit, as None is for httpx
        keepalive_timeout=options.limits.keepalive_expiry,
        ssl=options.ssl_context,
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class AiohttpGuardedTransport(AiohttpTransport):
    """httpx-aiohttp's transport on a session of ours, with exact error types."""

    def __init__(self, options: TransportOptions, proxy: httpx.Proxy | None = None) -> None:
        # A proxy's credentials go as a Proxy-Authorization header (httpx-aiohttp passes
        # them in a form aiohttp refuses): with the CONNECT of an https URL, with the
        # request itself for an http URL.
        self.proxy_authorization: str | None = None
        if proxy is not None and proxy.raw_auth is not None:
            self.proxy_authorization = "Basic " + base64.b64encode(b":".join(proxy.raw_auth)).decode("ascii")
            headers = {**proxy.headers, "Proxy-Authorization": self.proxy_authorization}
            proxy = httpx.Proxy(proxy.url, ssl_context=proxy.ssl_context, headers=headers)
        super().__init__(
            verify=options.ssl_context,
            limits=options.limits,
            http1=options.http1,
            http2=options.http2,
            proxy=proxy,
            client=functools.partial(_session, options),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.proxy_authorization is not None and request.url.scheme == "http":
            request.headers["Proxy-Authorization"] = self.proxy_authorization
        try:
            response = await super().handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError) as error:
            raise _mapped(error) from error
        response.stream = _Stream(response.stream)
        return response


class AsyncClient(LeanClient, httpx.AsyncClient):
    """``httpx.AsyncClient`` on :class:`AiohttpGuardedTransport` for every route, keeping no cookies."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**client_args(kwargs, AiohttpGuardedTransport))
