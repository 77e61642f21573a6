"""The two drivers: :func:`run_sync` and :func:`run_async` carry out the effects a flow
yields with blocking and with asyncio I/O. They hold no decisions: those are the flows'."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx

from .._core import effects as fx
from .._core.logging import log_attempt, logger
from .._core.names import shown_url
from .._core.storage import delivers
from .connections import Transport
from .guards import Exchange, deadline_passed

T = TypeVar("T")

# What a storage request that got no usable reply raises: handed to the flow as an outcome.
TRANSFER_FAILURES = (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, UnicodeError)

# What the generated parsers raise on a body they cannot read (RecursionError: a body within
# MAX_PARSED_DEPTH, parsed by a caller whose own stack is already deep).
_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, RecursionError)


def _call_outcome(started: float, current: Exchange, **fields: Any) -> fx.CallOutcome[Any]:
    outcome: fx.CallOutcome[Any] = fx.CallOutcome(
        response=current.response, sent_at=started, received_at=time.monotonic(), **fields
    )
    if logger.isEnabledFor(logging.INFO):
        request, response = current.request, outcome.response
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


def _failed_send(started: float, current: Exchange, error: Exception) -> fx.CallOutcome[Any]:
    """The outcome of an attempt that raised ``error``; ``error`` again if it is not the call's to report."""
    if isinstance(error, TimeoutError):  # the async driver's deadline
        return _call_outcome(started, current, error=httpx.ReadTimeout("the call's timeout passed"))
    if isinstance(error, httpx.HTTPError):
        return _call_outcome(started, current, error=error)
    if isinstance(error, _PARSE_ERRORS) and current.response is not None:
        return _call_outcome(started, current, parse_error=error)
    raise error


def _log_transfer(effect: fx.Put | fx.Get, started: float, outcome: fx.TransferOutcome) -> fx.TransferOutcome:
    if logger.isEnabledFor(logging.INFO):
        response = outcome.response
        headers = response.headers if response is not None else httpx.Headers()
        log_attempt(
            method="PUT" if isinstance(effect, fx.Put) else "GET",
            path=shown_url(effect.url, path_only=True),
            attempt=effect.attempt,
            duration=time.monotonic() - started,
            status=response.status_code if response is not None else None,
            request_id=headers.get("x-oss-request-id") or headers.get("x-ca-request-id"),
            error=outcome.error,
        )
    return outcome


def _sync_send(effect: fx.Send[Any], transport: Transport) -> fx.CallOutcome[Any]:
    started = time.monotonic()
    with Exchange(effect.timeout, effect.deadline, effect.attempt) as current:
        try:
            return _call_outcome(started, current, parsed=effect.call.send())
        except Exception as error:
            return _failed_send(started, current, error)


def _sync_body_head(response: httpx.Response) -> bytes:
    """The first bytes of a body that is not the file; one that fails to arrive is no
    worse than none (the status says what happened), unless the call's deadline passed."""
    try:
        return next(response.iter_bytes(fx.ERROR_BODY_LIMIT), b"")
    except TRANSFER_FAILURES:
        if deadline_passed():
            raise
    return b""


def _sync_fill(sink: fx.Sink, response: httpx.Response) -> None:
    sink.open()
    try:
        for chunk in response.iter_bytes(fx.CHUNK_SIZE):
            sink.write(chunk)
        sink.commit()
    except BaseException:
        sink.discard()
        raise


def _storage_request(
    storage: httpx.Client | httpx.AsyncClient, effect: fx.Put | fx.Get, chunks: Callable[[fx.ChunkSource], Any]
) -> httpx.Request:
    """A GET, or a PUT of ``chunks(effect.source)``."""
    if isinstance(effect, fx.Get):
        return storage.build_request("GET", effect.url, timeout=effect.timeout)
    content = chunks(effect.source)
    return storage.build_request("PUT", effect.url, content=content, headers=effect.headers, timeout=effect.timeout)


def _sync_transfer(effect: fx.Put | fx.Get, transport: Transport) -> fx.TransferOutcome:
    started = time.monotonic()
    sink = effect.sink if isinstance(effect, fx.Get) else None
    try:
        with Exchange(None, effect.deadline):
            storage = transport.sync_storage
            request = _storage_request(storage, effect, lambda source: source.iter_chunks())
            response = storage.send(request, stream=True, follow_redirects=False)
            if isinstance(effect, fx.Put) or not delivers("GET", response.status_code):
                with contextlib.closing(response):
                    outcome = fx.TransferOutcome(response=response, body=_sync_body_head(response))
            elif sink is None:
                outcome = fx.TransferOutcome(response=response)  # handed over open, its body unread
            else:
                with contextlib.closing(response):
                    _sync_fill(sink, response)
                outcome = fx.TransferOutcome(response=response)
    except TRANSFER_FAILURES as error:
        outcome = fx.TransferOutcome(error=error)
    return _log_transfer(effect, started, outcome)


def _sync_notify(effect: fx.Notify, transport: Transport) -> None:
    result = effect.callback(effect.argument)
    if inspect.isawaitable(result):
        getattr(result, "close", lambda: None)()  # a coroutine never awaited warns
        raise TypeError("an async on_progress callback needs async_run/async_wait")


def _sync_sleep(effect: fx.Sleep, transport: Transport) -> None:
    time.sleep(max(effect.seconds, 0.0))


def _sync_blocking(effect: fx.Blocking, transport: Transport) -> Any:
    return effect.fn()


def _sync_parallel(effect: fx.Parallel, transport: Transport) -> list[Any]:
    return [run_sync(child, transport) for child in effect.flows]


def _sync_wait(effect: fx.Wait, transport: Transport) -> Any:
    return effect.future.result(timeout=effect.remaining())


# Named functions, not lambdas: they are the frames a debugger shows.
_SYNC: dict[type, Callable[[Any, Transport], Any]] = {
    fx.Send: _sync_send,
    fx.Put: _sync_transfer,
    fx.Get: _sync_transfer,
    fx.Notify: _sync_notify,
    fx.Sleep: _sync_sleep,
    fx.Blocking: _sync_blocking,
    fx.Parallel: _sync_parallel,
    fx.Wait: _sync_wait,
}


def run_sync(flow: fx.Flow[T], transport: Transport) -> T:
    """Drive ``flow`` to completion with blocking I/O and return its result."""
    steps = fx.Steps(flow)
    for effect in steps:
        try:
            steps.value = _SYNC[type(effect)](effect, transport)
        except Exception as exc:  # handed to the flow, which decides what it means
            steps.error = exc
    return steps.result


async def _async_chunks(source: fx.ChunkSource) -> AsyncIterator[bytes]:
    chunks = source.iter_chunks()
    while True:
        chunk = await asyncio.to_thread(next, chunks, b"")  # no file I/O on the event loop
        if not chunk:
            return
        yield chunk


async def _async_send(effect: fx.Send[Any], transport: Transport) -> fx.CallOutcome[Any]:
    await transport.prepare_async()
    pool_timeout = effect.timeout.pool if effect.timeout is not None else None
    with Exchange(effect.timeout, effect.deadline, effect.attempt) as current:
        started = time.monotonic()
        try:
            # The deadline as a whole, however slowly a reply trickles in.
            async with asyncio.timeout(current.remaining()), transport.api_slot(pool_timeout):
                started = time.monotonic()
                parsed = await effect.call.asend()
            return _call_outcome(started, current, parsed=parsed)
        except Exception as error:
            return _failed_send(started, current, error)


async def _async_body_head(response: httpx.Response) -> bytes:
    """:func:`_sync_body_head`, async."""
    try:
        return await anext(response.aiter_bytes(fx.ERROR_BODY_LIMIT), b"")
    except TRANSFER_FAILURES:
        if deadline_passed():
            raise
    return b""


async def _async_transfer(effect: fx.Put | fx.Get, transport: Transport) -> fx.TransferOutcome:
    started = time.monotonic()
    sink = effect.sink if isinstance(effect, fx.Get) else None
    try:
        storage = await transport.async_storage()
        with Exchange(None, effect.deadline) as current:
            async with asyncio.timeout(current.remaining()):
                request = _storage_request(storage, effect, _async_chunks)
                response = await storage.send(request, stream=True, follow_redirects=False)
                if isinstance(effect, fx.Put) or not delivers("GET", response.status_code):
                    async with contextlib.aclosing(response):
                        outcome = fx.TransferOutcome(response=response, body=await _async_body_head(response))
                elif sink is None:
                    outcome = fx.TransferOutcome(response=response)  # handed over open, its body unread
                else:
                    async with contextlib.aclosing(response):
                        await _async_fill(sink, response)
                    outcome = fx.TransferOutcome(response=response)
    except TimeoutError:  # the call's deadline
        if isinstance(effect, fx.Put):
            late: httpx.TimeoutException = httpx.WriteTimeout("the call's timeout passed during the upload")
        else:
            late = httpx.ReadTimeout("the call's timeout passed during the download")
        outcome = fx.TransferOutcome(error=late)
    except TRANSFER_FAILURES as error:
        outcome = fx.TransferOutcome(error=error)
    return _log_transfer(effect, started, outcome)


async def _on(sink: fx.Sink, method: Callable[..., None], *args: Any) -> None:
    """``method(*args)``, in a worker thread if ``sink`` is blocking (a storage sink's discard is network I/O)."""
    await asyncio.to_thread(method, *args) if sink.blocking else method(*args)


async def _async_fill(sink: fx.Sink, response: httpx.Response) -> None:
    await _on(sink, sink.open)
    try:
        async for chunk in response.aiter_bytes(fx.CHUNK_SIZE):
            await _on(sink, sink.write, chunk)
        await _on(sink, sink.commit)
    except Exception:
        await _on(sink, sink.discard)
        raise
    except BaseException:  # cancelled: at once, without awaiting
        sink.discard()
        raise


async def _async_parallel(effect: fx.Parallel, transport: Transport) -> list[Any]:
    limit = asyncio.Semaphore(max(effect.limit, 1))

    async def bounded(child: fx.Flow[Any]) -> Any:
        async with limit:
            return await run_async(child, transport)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(bounded(child)) for child in effect.flows]
    except BaseExceptionGroup as failures:
        # Siblings were cancelled; surface the first real failure, not a group.
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


async def _async_wait(effect: fx.Wait, transport: Transport) -> Any:
    async with asyncio.timeout(effect.remaining()):
        # shield: a timeout here must not cancel the future other flows wait on
        return await asyncio.shield(asyncio.wrap_future(effect.future))


async def _async_notify(effect: fx.Notify, transport: Transport) -> None:
    result = effect.callback(effect.argument)
    if inspect.isawaitable(result):
        await result


async def _async_sleep(effect: fx.Sleep, transport: Transport) -> None:
    await asyncio.sleep(max(effect.seconds, 0.0))


async def _async_blocking(effect: fx.Blocking, transport: Transport) -> Any:
    return await asyncio.to_thread(effect.fn)


_ASYNC: dict[type, Callable[[Any, Transport], Awaitable[Any]]] = {
    fx.Send: _async_send,
    fx.Put: _async_transfer,
    fx.Get: _async_transfer,
    fx.Parallel: _async_parallel,
    fx.Wait: _async_wait,
    fx.Notify: _async_notify,
    fx.Sleep: _async_sleep,
    fx.Blocking: _async_blocking,
}


async def run_async(flow: fx.Flow[T], transport: Transport) -> T:
    """Drive ``flow`` to completion with asyncio I/O and return its result."""
    steps = fx.Steps(flow)
    for effect in steps:
        try:
            steps.value = await _ASYNC[type(effect)](effect, transport)
        except Exception as exc:  # handed to the flow, which decides what it means
            steps.error = exc
    return steps.result
