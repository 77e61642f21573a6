"""``httpx.AsyncClient`` on httpx-aiohttp's transport, with exact error types.

Imported only once async code runs: aiohttp is a large import. The client gets
:class:`AiohttpGuardedTransport` (a subclass of the public
``httpx_aiohttp.AiohttpTransport``) as ``transport=`` and, for each proxy route, in
``mounts=`` (:mod:`.proxies`): the same class direct and through proxies. Its aiohttp
session is ours, passed through the transport's public ``client=`` parameter: an
``aiohttp.ClientSession`` on an ``aiohttp.TCPConnector`` with the client's limits and
TLS context, and an ``aiohttp.DummyCookieJar`` (no cookies kept or sent).

httpx-aiohttp maps aiohttp's errors by their nearest mapped base class, so a server
that hung up after reading the request becomes ``httpx.ConnectTimeout`` — "never sent",
which would make a task submission look safe to repeat. Errors are mapped again here
from their cause (public aiohttp exception classes), in the overridden public
``handle_async_request`` and in the reply stream, and the few aiohttp errors it leaves
unmapped (a malformed reply head) become httpx's.

The call's deadline holds through ``asyncio.timeout`` in the driver (:mod:`.drivers`).
aiohttp repeats a GET or PUT once by itself when a kept-alive connection turns out to
be closed as it is reused; it has no public parameter to turn that off, and such
requests are safe to repeat.
"""

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


def _session(options: TransportOptions) -> aiohttp.ClientSession:
    """The aiohttp session of one transport, made on its event loop at its first request:
    its connections bounded by the client's limits, on the client's TLS context, and no
    cookie jar (``aiohttp.DummyCookieJar``): a cookie a server set is never sent back."""
    limits = options.limits
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections or 0,  # 0: no limit, as None is for httpx
        keepalive_timeout=limits.keepalive_expiry,
        ssl=options.ssl_context,
    )
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


class AiohttpGuardedTransport(AiohttpTransport):
    """httpx-aiohttp's transport on a session of ours (its public ``client=``
    parameter), with exact error types."""

    def __init__(self, options: TransportOptions, proxy: httpx.Proxy | None = None) -> None:
        # A proxy's credentials go as a Proxy-Authorization header, as httpcore sends
        # them and as aiohttp asks (its proxy_auth is deprecated; httpx-aiohttp 0.1.8
        # passes them in a form aiohttp refuses): with the CONNECT of an https URL
        # (aiohttp's proxy_headers), with the request itself for an http URL.
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
    """``httpx.AsyncClient`` on :class:`AiohttpGuardedTransport`, direct and through
    proxies, keeping no cookies. Takes ``httpx.AsyncClient``'s arguments."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**client_args(kwargs, AiohttpGuardedTransport))
