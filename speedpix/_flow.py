"""One logic, two drivers.

Every behaviour of the SDK (an API call with its retries, an upload, waiting for a task)
is written once, as a generator that yields *effects* — "send this request", "sleep this
long", "run these flows side by side" — and receives their outcomes. :func:`run_sync`
and :func:`run_async` carry the effects out, with blocking and with asyncio I/O. They
hold no decisions: what to retry, how long to sleep and what to upload are decided in
the flows, by pure functions, identically for both.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx

from speedpix_api.types import Response, Unset

from ._guards import exchange
from ._logging import log_attempt, logger
from ._transport import Transport

T = TypeVar("T")
Flow = Generator["Effect", Any, T]

# Bytes per read or write when streaming files: bounded memory, few system calls.
CHUNK_SIZE = 1024 * 1024


class ChunkSource(Protocol):
    """A file to upload, readable from its start as often as needed (for retries)."""

    def iter_chunks(self) -> Iterator[bytes]: ...


class Sink(Protocol):
    """Where a download goes. ``blocking`` sinks are written off the event loop."""

    blocking: bool

    def open(self) -> None: ...
    def write(self, chunk: bytes) -> None: ...
    def commit(self) -> None: ...
    def discard(self) -> None: ...


class Envelope(Protocol):
    """What every response model of the spec has: the business gateway's envelope."""

    @property
    def status(self) -> int: ...
    @property
    def api_invoke_id(self) -> str | Unset | None: ...
    @property
    def err_code(self) -> str | Unset | None: ...
    @property
    def err_message(self) -> str | Unset | None: ...
    @property
    def sub_err_code(self) -> str | Unset | None: ...
    @property
    def sub_err_message(self) -> str | Unset | None: ...
    @property
    def data(self) -> object: ...


E = TypeVar("E", bound=Envelope)


@dataclass(frozen=True)
class Call(Generic[E]):
    """One gateway call, ready to send (and to send again): a generated operation's
    public function bound to its arguments, for each driver (see ``_api.Operation``)."""

    name: str
    idempotent: bool
    send: Callable[[], Response[E]]
    asend: Callable[[], Awaitable[Response[E]]]


@dataclass(frozen=True)
class CallOutcome(Generic[E]):
    """What one attempt of a :class:`Call` led to.

    ``parsed`` is the generated layer's answer; ``response`` the HTTP response it came
    from, kept also when the generated parser failed on it (``parse_error``); ``error``
    an httpx error that left no usable response. ``sent_at``/``received_at`` are
    ``time.monotonic()`` values around the attempt.
    """

    parsed: Response[E] | None = None
    response: httpx.Response | None = None
    error: httpx.HTTPError | None = None
    parse_error: Exception | None = None
    sent_at: float = 0.0
    received_at: float = 0.0


@dataclass(frozen=True)
class Send(Generic[E]):
    """Make one attempt of a signed gateway call, within its timeout and the deadline."""

    call: Call[E]
    timeout: httpx.Timeout
    deadline: float | None
    attempt: int


@dataclass(frozen=True)
class Put:
    """Stream a file to a presigned upload URL (unsigned)."""

    url: str
    source: ChunkSource
    headers: dict[str, str]
    timeout: httpx.Timeout
    attempt: int


@dataclass(frozen=True)
class Get:
    """Stream a storage URL (unsigned) into ``sink``."""

    url: str
    sink: Sink
    timeout: httpx.Timeout
    attempt: int


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Blocking:
    """Run a blocking function (file I/O): inline when sync, in a worker thread when async."""

    fn: Callable[[], Any]


@dataclass(frozen=True)
class Parallel:
    """Run flows side by side (at most ``limit`` at once when async; in order when sync)."""

    flows: Sequence[Flow[Any]]
    limit: int = 8


@dataclass(frozen=True)
class Notify:
    """Call a user callback; an async callback is awaited by the async driver."""

    callback: Callable[[Any], Any]
    argument: Any


Effect = Send[Any] | Put | Get | Sleep | Blocking | Parallel | Notify


@dataclass(frozen=True)
class Outcome:
    """What a request led to: a response, or the transport error that prevented one.

    ``sent_at`` and ``received_at`` are ``time.monotonic()`` values around the attempt.
    """

    response: httpx.Response | None = None
    error: httpx.TransportError | None = None
    sent_at: float = 0.0
    received_at: float = 0.0


def _path_of(url: str | httpx.URL) -> str:
    return httpx.URL(url).path


def _logged(method: str, url: str | httpx.URL, attempt: int, started: float, outcome: Outcome) -> Outcome:
    """``outcome`` with its timing, logged when logging is on."""
    outcome = Outcome(outcome.response, outcome.error, sent_at=started, received_at=time.monotonic())
    if not logger.isEnabledFor(logging.INFO):
        return outcome  # skip parsing the URL: this runs for every request
    response = outcome.response
    log_attempt(
        method=method,
        path=_path_of(url),
        attempt=attempt,
        duration=outcome.received_at - started,
        status=response.status_code if response is not None else None,
        request_id=response.headers.get("x-ca-request-id") if response is not None else None,
        error=outcome.error,
    )
    return outcome


# ---------------------------------------------------------------- sync driver


# What the generated parsers raise on a body they cannot read: a 200 that is not the envelope.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError)


def _call_outcome(started: float, current: Any, **fields: Any) -> CallOutcome[Any]:
    outcome: CallOutcome[Any] = CallOutcome(
        response=current.response, sent_at=started, received_at=time.monotonic(), **fields
    )
    if logger.isEnabledFor(logging.INFO):
        request = current.request
        response = outcome.response
        log_attempt(
            method=request.method if request is not None else "POST",
            path=request.url.path if request is not None else "?",
            attempt=current.attempt,
            duration=outcome.received_at - started,
            status=response.status_code if response is not None else None,
            request_id=response.headers.get("x-ca-request-id") if response is not None else None,
            error=outcome.error or outcome.parse_error,
        )
    return outcome


def _failed_send(started: float, current: Any, error: Exception) -> CallOutcome[Any] | None:
    """The outcome of an attempt that raised ``error``, or None if it is not the call's to report."""
    if isinstance(error, TimeoutError):  # the async driver's deadline
        return _call_outcome(started, current, error=httpx.ReadTimeout("the call's timeout passed"))
    if isinstance(error, httpx.HTTPError):
        return _call_outcome(started, current, error=error)
    if isinstance(error, _PARSE_ERRORS) and current.response is not None:
        return _call_outcome(started, current, parse_error=error)
    return None


def _sync_send(effect: Send[Any]) -> CallOutcome[Any]:
    started = time.monotonic()
    with exchange(effect.timeout, effect.deadline, effect.attempt) as current:
        try:
            return _call_outcome(started, current, parsed=effect.call.send())
        except Exception as error:
            outcome = _failed_send(started, current, error)
            if outcome is None:
                raise
            return outcome


def _sync_put(transport: Transport, effect: Put) -> Outcome:
    started = time.monotonic()
    try:
        response = transport.sync_storage.put(
            effect.url, content=effect.source.iter_chunks(), headers=effect.headers, timeout=effect.timeout
        )
        outcome = Outcome(response=response)
    except httpx.TransportError as error:
        outcome = Outcome(error=error)
    return _logged("PUT", effect.url, effect.attempt, started, outcome)


def _sync_get(transport: Transport, effect: Get) -> Outcome:
    started = time.monotonic()
    sink = effect.sink
    try:
        with transport.sync_storage.stream("GET", effect.url, timeout=effect.timeout) as response:
            if response.status_code == 200:
                sink.open()
                try:
                    for chunk in response.iter_bytes(CHUNK_SIZE):
                        sink.write(chunk)
                except BaseException:
                    sink.discard()
                    raise
                sink.commit()
            else:
                response.read()
        outcome = Outcome(response=response)
    except httpx.TransportError as error:
        outcome = Outcome(error=error)
    return _logged("GET", effect.url, effect.attempt, started, outcome)


def run_sync(flow: Flow[T], transport: Transport) -> T:
    """Drive ``flow`` to completion with blocking I/O and return its result."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(effect, Send):
                value = _sync_send(effect)
            elif isinstance(effect, Sleep):
                time.sleep(max(effect.seconds, 0.0))
            elif isinstance(effect, Put):
                value = _sync_put(transport, effect)
            elif isinstance(effect, Get):
                value = _sync_get(transport, effect)
            elif isinstance(effect, Blocking):
                value = effect.fn()
            elif isinstance(effect, Parallel):
                value = [run_sync(child, transport) for child in effect.flows]
            elif isinstance(effect, Notify):
                result = effect.callback(effect.argument)
                if inspect.isawaitable(result):
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
                    raise TypeError("an async on_progress callback needs async_run/async_wait")
        except Exception as exc:  # handed to the flow, which decides what it means
            error = exc


# ---------------------------------------------------------------- async driver


async def _async_chunks(source: ChunkSource) -> AsyncIterator[bytes]:
    # Each read of the file runs in a worker thread: no blocking I/O on the event loop.
    chunks = source.iter_chunks()
    sentinel = b""
    while True:
        chunk = await asyncio.to_thread(next, chunks, sentinel)
        if not chunk:
            return
        yield chunk


async def _async_send(transport: Transport, effect: Send[Any]) -> CallOutcome[Any]:
    started = time.monotonic()
    await transport.prepare_async()
    with exchange(effect.timeout, effect.deadline, effect.attempt) as current:
        try:
            # The deadline as a whole, however slowly a reply trickles in.
            async with asyncio.timeout(current.remaining()):
                parsed = await effect.call.asend()
            return _call_outcome(started, current, parsed=parsed)
        except Exception as error:
            outcome = _failed_send(started, current, error)
            if outcome is None:
                raise
            return outcome


async def _async_put(transport: Transport, effect: Put) -> Outcome:
    started = time.monotonic()
    try:
        storage = await transport.async_storage()
        response = await storage.put(
            effect.url, content=_async_chunks(effect.source), headers=effect.headers, timeout=effect.timeout
        )
        outcome = Outcome(response=response)
    except httpx.TransportError as error:
        outcome = Outcome(error=error)
    return _logged("PUT", effect.url, effect.attempt, started, outcome)


async def _async_get(transport: Transport, effect: Get) -> Outcome:
    started = time.monotonic()
    sink = effect.sink
    try:
        storage = await transport.async_storage()
        async with storage.stream("GET", effect.url, timeout=effect.timeout) as response:
            if response.status_code == 200:
                await asyncio.to_thread(sink.open) if sink.blocking else sink.open()
                try:
                    async for chunk in response.aiter_bytes(CHUNK_SIZE):
                        if sink.blocking:
                            await asyncio.to_thread(sink.write, chunk)
                        else:
                            sink.write(chunk)
                except BaseException:
                    sink.discard()
                    raise
                await asyncio.to_thread(sink.commit) if sink.blocking else sink.commit()
            else:
                await response.aread()
        outcome = Outcome(response=response)
    except httpx.TransportError as error:
        outcome = Outcome(error=error)
    return _logged("GET", effect.url, effect.attempt, started, outcome)


async def _async_parallel(effect: Parallel, transport: Transport) -> list[Any]:
    limit = asyncio.Semaphore(max(effect.limit, 1))

    async def bounded(child: Flow[Any]) -> Any:
        async with limit:
            return await run_async(child, transport)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(bounded(child)) for child in effect.flows]
    except BaseExceptionGroup as failures:
        # Siblings were cancelled; surface the first real failure, not a group.
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def run_async(flow: Flow[T], transport: Transport) -> T:
    """Drive ``flow`` to completion with asyncio I/O and return its result."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(effect, Send):
                value = await _async_send(transport, effect)
            elif isinstance(effect, Sleep):
                await asyncio.sleep(max(effect.seconds, 0.0))
            elif isinstance(effect, Put):
                value = await _async_put(transport, effect)
            elif isinstance(effect, Get):
                value = await _async_get(transport, effect)
            elif isinstance(effect, Blocking):
                value = await asyncio.to_thread(effect.fn)
            elif isinstance(effect, Parallel):
                value = await _async_parallel(effect, transport)
            elif isinstance(effect, Notify):
                result = effect.callback(effect.argument)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            error = exc
