"""``httpx.Client`` on an httpcore pool of ours, with reads and writes bounded by the
call's deadline.

Imported once a sync client is made. httpcore's pools (``httpcore.ConnectionPool``,
``httpcore.HTTPProxy``, ``httpcore.SOCKSProxy``) take a ``network_backend=``, a public
parameter: :class:`_GuardedBackend` wraps httpcore's ``SyncBackend`` so that every
connect, read and write waits no longer than what is left of the current call's
deadline (:func:`~.guards.current_exchange`), however slowly a reply trickles in.
:class:`GuardedTransport`, an ``httpx.BaseTransport``, owns such a pool and converts
httpx's requests and replies to httpcore's and back (as httpx's ``HTTPTransport`` does,
with public API only); the client gets it as ``transport=`` and, for each proxy route,
in ``mounts=`` (:mod:`.proxies`): the same class direct and through proxies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from .guards import LeanClient, current_exchange
from .proxies import TransportOptions, client_args


def _bounded(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` shortened to what is left of the current call's deadline."""
    current = current_exchange()
    remaining = current.remaining() if current is not None else None
    if remaining is None:
        return timeout
    if remaining <= 0:
        raise error("the call's timeout passed")
    return remaining if timeout is None else min(timeout, remaining)


class _GuardedNetworkStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        return _GuardedNetworkStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _GuardedNetworkStream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _GuardedNetworkStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# httpcore's errors and httpx's for them, most specific first (httpx maps them alike).
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for theirs, ours in _ERRORS:
            if isinstance(error, theirs):
                raise ours(str(error)) from error
        raise


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            with _httpx_errors():
                close()


def _httpcore_url(url: httpx.URL) -> httpcore.URL:
    return httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)


class GuardedTransport(httpx.BaseTransport):
    """httpx requests through an httpcore pool (direct, or through ``proxy``) whose
    network backend is :class:`_GuardedBackend`."""

    def __init__(self, options: TransportOptions, proxy: httpx.Proxy | None = None) -> None:
        limits = options.limits
        common: dict[str, Any] = {
            "ssl_context": options.ssl_context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "http1": options.http1,
            "http2": options.http2,
            "network_backend": _GuardedBackend(httpcore.SyncBackend()),
        }
        self._connections: httpcore.ConnectionPool
        if proxy is None:
            self._connections = httpcore.ConnectionPool(**common)
        elif proxy.url.scheme in ("http", "https"):
            self._connections = httpcore.HTTPProxy(
                proxy_url=_httpcore_url(proxy.url),
                proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw,
                proxy_ssl_context=proxy.ssl_context,
                **common,
            )
        elif proxy.url.scheme in ("socks5", "socks5h"):  # httpcore needs socksio: `pip install httpx[socks]`
            self._connections = httpcore.SOCKSProxy(
                proxy_url=_httpcore_url(proxy.url), proxy_auth=proxy.raw_auth, **common
            )
        else:
            raise ValueError(f"a proxy URL's scheme is http, https, socks5 or socks5h, not {proxy.url.scheme!r}")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("a sync client's request has a sync body")
        core_request = httpcore.Request(
            method=request.method,
            url=_httpcore_url(request.url),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = self._connections.handle_request(core_request)
        stream = core_response.stream
        if not isinstance(stream, Iterable):
            raise TypeError("httpcore's sync pool replied with an async body")
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(stream),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._connections.close()


class SyncClient(LeanClient, httpx.Client):
    """``httpx.Client`` on :class:`GuardedTransport`, direct and through proxies,
    keeping no cookies. Takes ``httpx.Client``'s arguments."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**client_args(kwargs, GuardedTransport))
