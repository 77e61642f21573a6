"""What hostile replies call for, around httpx's clients: event hooks that see the call's
:class:`Exchange`, refuse compressed, oversized or too deeply nested
replies, and no cookies."""

from __future__ import annotations

import functools
import http.cookiejar
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from .._core.effects import RefusedReply
from .._core.jsontext import MAX_PARSED_DEPTH, NestingGauge

#: Gateway replies are small JSON envelopes; anything this large is not one.
MAX_API_REPLY_BYTES = 8 * 1024 * 1024


class _RefusingJar(http.cookiejar.CookieJar):
    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class NoCookies(httpx.Cookies):
    """A client's cookies, always empty; replies are not even read for them."""

    def __init__(self) -> None:
        super().__init__(_RefusingJar())

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class AbsoluteURLs:
    """A base URL joined with relative URLs as httpx joins them, each parsed once, not twice a request."""

    _LIMIT = 64  # the API's operations, with room to spare

    def __init__(self) -> None:
        self._base: httpx.URL | None = None
        self._joined: dict[str, httpx.URL] = {}

    def join(self, base_url: httpx.URL, url: httpx.URL | str) -> httpx.URL | str:
        if not isinstance(url, str):
            return url
        if base_url is not self._base:  # the client's base_url was replaced
            self._base, self._joined = base_url, {}
        joined = self._joined.get(url)
        if joined is None:
            parsed = httpx.URL(url)
            if not parsed.is_relative_url:
                return parsed
            joined = base_url.copy_with(raw_path=base_url.raw_path + parsed.raw_path.lstrip(b"/"))
            if len(self._joined) < self._LIMIT:
                self._joined[url] = joined
        return joined


if TYPE_CHECKING:

    class _Mixin:  # what LeanClient uses of httpx.Client and httpx.AsyncClient
        base_url: httpx.URL

        def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request: ...

else:
    _Mixin = object


class LeanClient(_Mixin):
    """The first base of both client classes: no cookies, each relative URL parsed once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._absolute_urls = AbsoluteURLs()
        self._no_cookies = NoCookies()

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        return super().build_request(method, self._absolute_urls.join(self.base_url, url), **kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("SpeedPix clients keep and send no cookies: the gateway would not sign them")


@dataclass(slots=True, eq=False)
class Exchange:
    """One attempt of a call, as its hooks see it (a context variable: the thread's or task's)."""

    timeout: httpx.Timeout | None = None
    deadline: float | None = None  # time.monotonic() value
    attempt: int = 1
    request: httpx.Request | None = None
    response: httpx.Response | None = None
    _token: Token[Exchange | None] | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def __enter__(self) -> Exchange:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
        # Callbacks scheduled meanwhile keep a copy of the context, and this Exchange with it.
        self.request = self.response = self._token = None


_current: ContextVar[Exchange | None] = ContextVar("speedpix_exchange", default=None)
current_exchange = _current.get


def deadline_passed() -> bool:
    current = _current.get()
    remaining = current.remaining() if current is not None else None
    return remaining is not None and remaining <= 0


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
            f"the reply is compressed (Content-Encoding: {encoding}) though the SDK asked for none; "
            "refused rather than inflated",
            request=response.request,
        )
    deadline = current.deadline if current is not None else None
    response.stream = _GuardedStream(response.stream, api, deadline)


def event_hooks(user: Mapping[str, Iterable[Callable[..., Any]]] | None, *, api: bool, asynchronous: bool) -> Any:
    """Our hooks around the caller's (``httpx_args["event_hooks"]``); coroutines for an async client."""
    user = user or {}
    on_request: Callable[..., Any] = _on_request
    on_response: Callable[..., Any] = functools.partial(_on_response, api=api)
    if asynchronous:
        on_request, on_response = _awaitable(on_request), _awaitable(on_response)
    return {"request": [*user.get("request", ()), on_request], "response": [on_response, *user.get("response", ())]}


def _awaitable(hook: Callable[[Any], None]) -> Callable[[Any], Any]:
    async def awaitable(message: Any) -> None:
        hook(message)

    return awaitable


class _GuardedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A reply body that stops at the call's deadline; an API reply also at a size and a depth."""

    def __init__(self, inner: Any, api: bool, deadline: float | None) -> None:
        self._inner = inner
        self._gauge = NestingGauge(MAX_PARSED_DEPTH) if api else None
        self._deadline = deadline
        self._seen = 0

    def _check(self, chunk: bytes) -> None:
        self._seen += len(chunk)
        if self._gauge is not None:
            if self._seen > MAX_API_REPLY_BYTES:
                raise RefusedReply(f"the reply is larger than {MAX_API_REPLY_BYTES} bytes: not an API reply; refused")
            if not self._gauge.feed(chunk):
                raise RefusedReply(f"the reply nests deeper than {MAX_PARSED_DEPTH} levels: not an API reply; refused")
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise httpx.ReadTimeout("the call's timeout passed while the reply was still arriving")

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._check(chunk)
            yield chunk

    # Not an async generator: asyncio registers each one it starts.
    def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = self._inner.__aiter__()
        return self

    async def __anext__(self) -> bytes:
        chunk: bytes = await self._chunks.__anext__()
        self._check(chunk)
        return chunk

    # Letting go of the wrapped stream once closed: httpx's wraps the response, a cycle.
    def close(self) -> None:
        inner, self._inner = self._inner, _CLOSED
        inner.close()

    async def aclose(self) -> None:
        inner, self._inner = self._inner, _CLOSED
        await inner.aclose()


_CLOSED = httpx.ByteStream(b"")
