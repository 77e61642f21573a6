"""The protections hostile replies call for, wrapped around httpx's clients, each
through a public API of httpx, httpcore, aiohttp or httpx-aiohttp.

- Every call the façade makes runs inside an :class:`Exchange` (a context variable): its
  per-attempt timeout and overall deadline reach the request (httpx's ``"timeout"``
  request extension, set in a ``request`` event hook), and its response is kept even
  when the generated parser then fails on it (for the error's request id).
- A reply in a ``Content-Encoding`` we did not ask for is refused, never inflated (we ask
  for ``identity``): a 1 MB gzip body may inflate to gigabytes. A ``response`` event hook.
- A gateway reply larger than :data:`MAX_API_REPLY_BYTES` is refused as it arrives: the
  same hook wraps the reply's ``response.stream`` (an ``httpx.SyncByteStream`` and
  ``httpx.AsyncByteStream``, :class:`_GuardedStream`).
- The deadline holds while a reply trickles in: sync reads and writes are bounded by it
  in the ``network_backend=`` of httpcore's pools (:mod:`.sync`), async calls by
  ``asyncio.timeout`` in the driver (:mod:`.drivers`).
- The clients keep and send no cookies (:class:`LeanClient`, a mixin of both client
  classes overriding httpx's public ``cookies`` and ``build_request``; and the async
  client's aiohttp session has an ``aiohttp.DummyCookieJar``, :mod:`.aio`): a cookie the
  gateway set would ride along with later requests, unsigned.
- Proxies (the environment's and the caller's) are routes of ``mounts=``, each the same
  transport class as the direct route (:mod:`.proxies`).
"""

from __future__ import annotations

import functools
import http.cookiejar
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

import httpx

from .._core.effects import RefusedReply

#: Gateway replies are small JSON envelopes; anything this large is not one.
MAX_API_REPLY_BYTES = 8 * 1024 * 1024


class _RefusingJar(http.cookiejar.CookieJar):
    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class NoCookies(httpx.Cookies):
    """Cookies that stay empty: a client's ``cookies``. Neither the gateway nor storage
    uses cookies, and one the gateway set would ride along with later signed requests
    unsigned. Not even read: httpx would copy every reply's headers into an
    ``email.message.Message`` for its jar first."""

    REFUSAL = "SpeedPix clients keep and send no cookies: the gateway would not sign them"

    def __init__(self) -> None:
        super().__init__(_RefusingJar())

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class AbsoluteURLs:
    """A client's base URL joined with each relative URL it was given, as httpx joins
    them, but parsed once per URL rather than twice per request: the generated
    operations pass the same few paths again and again."""

    _LIMIT = 64  # the API's operations, with room to spare; anything else is not kept

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

    class _Mixin:
        """What :class:`LeanClient` uses of the ``httpx.Client`` or ``httpx.AsyncClient``
        it is mixed into (their public API), for the type checker."""

        @property
        def base_url(self) -> httpx.URL: ...
        @base_url.setter
        def base_url(self, url: httpx.URL | str) -> None: ...
        def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request: ...

else:
    _Mixin = object


class LeanClient(_Mixin):
    """What SpeedPix's httpx clients, sync and async, change in httpx's: they keep no
    cookies (:class:`NoCookies`), and parse each relative URL once (:class:`AbsoluteURLs`).
    A mixin, first base of ``SyncClient(LeanClient, httpx.Client)`` and
    ``AsyncClient(LeanClient, httpx.AsyncClient)``: it overrides their public
    ``build_request`` and ``cookies``."""

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
        raise TypeError(NoCookies.REFUSAL)


class Exchange:
    """One attempt of a façade call, as its hooks see it; ``with Exchange(...)`` runs
    the attempt inside it (sync and async alike: a context variable follows the calling
    thread or task)."""

    __slots__ = ("_token", "attempt", "deadline", "request", "response", "timeout")

    def __init__(self, timeout: httpx.Timeout | None = None, deadline: float | None = None, attempt: int = 1) -> None:
        self.timeout = timeout
        self.deadline = deadline  # time.monotonic() value
        self.attempt = attempt
        self.request: httpx.Request | None = None
        self.response: httpx.Response | None = None
        self._token: Token[Exchange | None] | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def __enter__(self) -> Exchange:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
        # Callbacks scheduled meanwhile (a new connection's socket reader, for one) keep
        # a copy of the context, and this Exchange with it, for as long as they live.
        self.request = self.response = self._token = None


_current: ContextVar[Exchange | None] = ContextVar("speedpix_exchange", default=None)


def current_exchange() -> Exchange | None:
    """The attempt running in this thread or task, if the façade made it."""
    return _current.get()


def deadline_passed() -> bool:
    """Whether the current call's deadline has passed."""
    current = _current.get()
    remaining = current.remaining() if current is not None else None
    return remaining is not None and remaining <= 0


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
            f"the reply is compressed (Content-Encoding: {encoding}) though the SDK asked for none; "
            "refused rather than inflated",
            request=response.request,
        )
    limit = MAX_API_REPLY_BYTES if api else None
    deadline = current.deadline if current is not None else None
    response.stream = _GuardedStream(response.stream, limit=limit, deadline=deadline)


Hooks = dict[str, list[Callable[..., Any]]]


def event_hooks(user: Mapping[str, Iterable[Callable[..., Any]]] | None, *, api: bool, asynchronous: bool) -> Hooks:
    """Our hooks around the caller's (``httpx_args["event_hooks"]``); coroutines for an async client."""
    user = user or {}
    on_request: Callable[..., Any] = _on_request
    on_response: Callable[..., Any] = functools.partial(_on_response, api=api)
    if asynchronous:
        on_request, on_response = _awaitable(on_request), _awaitable(on_response)
    return {"request": [*user.get("request", ()), on_request], "response": [on_response, *user.get("response", ())]}


def _awaitable(hook: Callable[[Any], None]) -> Callable[[Any], Coroutine[Any, Any, None]]:
    async def awaitable(message: Any) -> None:
        hook(message)

    return awaitable


class _GuardedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A reply body that stops at a size limit and at the call's deadline, if any, and
    that lets go of the stream it wraps once closed."""

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

    # An iterator rather than an async generator, as are _aio's: asyncio registers
    # every async generator it starts, and a request goes through several such layers.
    def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = self._inner.__aiter__()
        return self

    async def __anext__(self) -> bytes:
        chunk: bytes = await self._chunks.__anext__()
        self._check(chunk)
        return chunk

    # Once closed, the stream lets go of the one it wraps: httpx's wraps the response
    # again, and that cycle would otherwise wait for the garbage collector.
    def close(self) -> None:
        inner, self._inner = self._inner, _CLOSED
        inner.close()

    async def aclose(self) -> None:
        inner, self._inner = self._inner, _CLOSED
        await inner.aclose()


_CLOSED = httpx.ByteStream(b"")
