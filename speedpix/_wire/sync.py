"""``httpx.Client`` on httpcore, with reads and writes bounded by the call's deadline.

Imported once a sync client is made. httpcore's pools take a network backend, which
httpx has no parameter for: :class:`_GuardedBackend` wraps the default one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from .guards import LeanClient, current_exchange


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
        # Reads since the last request was written: a reply parsed with none was
        # already buffered, so it cannot be the reply to that request.
        self.reads_since_write = 0

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reads_since_write += 1
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.reads_since_write = 0
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


class _GuardedHTTPTransport(httpx.HTTPTransport):
    """httpx's transport, its httpcore pool on :class:`_GuardedBackend`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # httpcore pools take a network backend; httpx has no parameter for it.
        self._pool._network_backend = _GuardedBackend(self._pool._network_backend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        stream = response.extensions.get("network_stream")
        if isinstance(stream, _GuardedNetworkStream) and stream.reads_since_write == 0:
            response.close()  # its connection too: the reply was never read
            raise httpx.RemoteProtocolError(
                "the server sent a reply before the request was written (bytes after the previous reply); "
                "the connection was closed",
                request=request,
            )
        return response


class SyncClient(LeanClient, httpx.Client):
    """``httpx.Client`` on :class:`_GuardedHTTPTransport`, direct and through proxies,
    keeping no cookies."""

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        transport: httpx.BaseTransport | None = kwargs.pop("transport", None)
        return transport if transport is not None else _GuardedHTTPTransport(*args, **kwargs)

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        return _GuardedHTTPTransport(*args, **kwargs)
