"""The protections hostile replies call for, wrapped around httpx's clients.

- Every call the façade makes runs inside an :class:`Exchange` (a context variable): its
  per-attempt timeout and overall deadline reach the request, and its response is kept
  even when the generated parser then fails on it (for the error's request id).
- A reply in a ``Content-Encoding`` we did not ask for is refused, never inflated (we ask
  for ``identity``): a 1 MB gzip body may inflate to gigabytes.
- A gateway reply larger than :data:`MAX_API_REPLY_BYTES` is refused as it arrives.
- The deadline holds while a reply trickles in: sync reads and writes are bounded by it
  in httpcore's network backend, async calls by ``asyncio.timeout`` in the driver.
- A sync reply that was already buffered before its request was written (a second reply
  appended to the previous one) is refused, and its connection closed: httpcore would
  take it as the reply. aiohttp, under async calls, closes such connections itself.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

#: Gateway replies are small JSON envelopes; anything this large is not one.
MAX_API_REPLY_BYTES = 8 * 1024 * 1024


class RefusedReply(httpx.DecodingError):
    """A reply that the SDK refuses to read: an encoding it did not ask for, or too large."""


@dataclass
class Exchange:
    """One attempt of a façade call, as its hooks see it."""

    timeout: httpx.Timeout | None = None
    deadline: float | None = None  # time.monotonic() value
    attempt: int = 1
    request: httpx.Request | None = None
    response: httpx.Response | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()


_current: ContextVar[Exchange | None] = ContextVar("speedpix_exchange", default=None)


@contextlib.contextmanager
def exchange(timeout: httpx.Timeout | None, deadline: float | None, attempt: int = 1) -> Iterator[Exchange]:
    """Run one attempt inside an :class:`Exchange` (sync and async alike: a context
    variable follows the calling thread or task)."""
    current = Exchange(timeout, deadline, attempt)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


# ---------------------------------------------------------------- event hooks


def _on_request(request: httpx.Request) -> None:
    current = _current.get()
    if current is not None:
        current.request = request
        if current.timeout is not None:
            request.extensions["timeout"] = current.timeout.as_dict()


def _on_response(response: httpx.Response, *, api: bool) -> None:
    current = _current.get()
    if current is not None:
        current.response = response
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise RefusedReply(
            f"the reply is compressed ({encoding}) though the SDK asked for none; refused rather than inflated",
            request=response.request,
        )
    limit = MAX_API_REPLY_BYTES if api else None
    deadline = current.deadline if current is not None else None
    if limit is not None or deadline is not None:
        response.stream = _GuardedStream(response.stream, limit=limit, deadline=deadline)


Hooks = dict[str, list[Callable[..., Any]]]


def sync_hooks(user: Mapping[str, Iterable[Callable[..., Any]]] | None, *, api: bool) -> Hooks:
    """Our hooks around the caller's (``httpx_args["event_hooks"]``)."""
    user = user or {}

    def on_response(response: httpx.Response) -> None:
        _on_response(response, api=api)

    return {"request": [*user.get("request", ()), _on_request], "response": [on_response, *user.get("response", ())]}


def async_hooks(user: Mapping[str, Iterable[Callable[..., Any]]] | None, *, api: bool) -> Hooks:
    user = user or {}

    async def on_request(request: httpx.Request) -> None:
        _on_request(request)

    async def on_response(response: httpx.Response) -> None:
        _on_response(response, api=api)

    return {"request": [*user.get("request", ()), on_request], "response": [on_response, *user.get("response", ())]}


class _GuardedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A reply body that stops at a size limit and at the call's deadline."""

    def __init__(self, inner: Any, *, limit: int | None, deadline: float | None) -> None:
        self._inner = inner
        self._limit = limit
        self._deadline = deadline
        self._seen = 0

    def _check(self, chunk: bytes) -> None:
        self._seen += len(chunk)
        if self._limit is not None and self._seen > self._limit:
            raise RefusedReply(f"the reply is larger than {self._limit} bytes: not an API reply; refused")
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise httpx.ReadTimeout("the call's timeout passed while the reply was still arriving")

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._check(chunk)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._check(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()


# ---------------------------------------------------------------- sync transport


def _bounded(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` shortened to what is left of the current call's deadline."""
    current = _current.get()
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


class SyncClient(httpx.Client):
    """``httpx.Client`` on :class:`_GuardedHTTPTransport`, direct and through proxies."""

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        transport: httpx.BaseTransport | None = kwargs.pop("transport", None)
        return transport if transport is not None else _GuardedHTTPTransport(*args, **kwargs)

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        return _GuardedHTTPTransport(*args, **kwargs)


def async_client_class() -> type[httpx.AsyncClient]:
    """The async client class; aiohttp is imported the first time async code needs it."""
    from ._aio import AsyncClient

    return AsyncClient
