"""``httpx.Client`` on httpcore pools of ours, whose ``network_backend=`` bounds every
connect, read and write by what is left of the call's deadline."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

from .guards import LeanClient, current_exchange
from .proxies import TransportOptions, client_args


def _bounded(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
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

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _GuardedNetworkStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    _inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, *args: Any, **kwargs: Any) -> Any:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _GuardedNetworkStream(self._inner.connect_tcp(host, port, bounded, *args, **kwargs))


# httpcore's errors, each raised as httpx's of the same name (the most specific in its MRO).
_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    getattr(httpcore, name): getattr(httpx, name)
    for name in dir(httpcore)
    if isinstance(getattr(httpx, name, None), type) and issubclass(getattr(httpx, name), httpx.TransportError)
}


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        ours = next((_ERRORS[kind] for kind in type(error).__mro__ if kind in _ERRORS), None)
        if ours is None:
            raise
        raise ours(str(error)) from error


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._inner

    def close(self) -> None:
        with _httpx_errors():
            self._inner.close()


def _httpcore_url(url: httpx.URL) -> httpcore.URL:
    return httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)


class GuardedTransport(httpx.BaseTransport):
    """httpx requests through an httpcore pool (direct, or through ``proxy``) on :class:`_GuardedBackend`."""

    def __init__(self, options: TransportOptions, proxy: httpx.Proxy | None = None) -> None:
        limits = options.limits
        common: dict[str, Any] = {
            "ssl_context": options.ssl_context,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "http1": options.http1,
            "http2": options.http2,
            "network_backend": _GuardedBackend(),
        }
        if proxy is None:
            self._connections = httpcore.ConnectionPool(**common)
        elif proxy.url.scheme.startswith("socks"):  # needs socksio: `pip install httpx[socks]`
            self._connections = httpcore.SOCKSProxy(
                proxy_url=_httpcore_url(proxy.url), proxy_auth=proxy.raw_auth, **common
            )
        else:  # http or https: httpx.Proxy allows no other scheme
            self._connections = httpcore.HTTPProxy(
                proxy_url=_httpcore_url(proxy.url),
                proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw,
                proxy_ssl_context=proxy.ssl_context,
                **common,
            )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=_httpcore_url(request.url),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            reply = self._connections.handle_request(core_request)
        return httpx.Response(
            status_code=reply.status,
            headers=reply.headers,
            stream=_ResponseStream(reply.stream),
            extensions=reply.extensions,
        )

    def close(self) -> None:
        self._connections.close()


class SyncClient(LeanClient, httpx.Client):
    """``httpx.Client`` on :class:`GuardedTransport` for every route, keeping no cookies."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**client_args(kwargs, GuardedTransport))
