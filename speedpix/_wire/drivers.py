"""The two drivers: :func:`run_sync` and :func:`run_async` carry out the effects a flow
yields with blocking and with asyncio I/O. They hold no decisions: those are the flows'."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx

from .._core.effects import (
    CHUNK_SIZE,
    ERROR_BODY_LIMIT,
    Blocking,
    CallOutcome,
    ChunkSource,
    Effect,
    Flow,
    Get,
    Notify,
    Parallel,
    Put,
    Send,
    Sink,
    Sleep,
    Steps,
    TransferOutcome,
    Wait,
)
from .._core.logging import log_attempt, logger
from .._core.names import shown_url
from .._core.storage import delivers
from .connections import Transport
from .guards import Exchange, deadline_passed

T = TypeVar("T")

# What a storage request that got no usable reply raises: handed to the flow as an outcome.
TRANSFER_FAILURES = (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, UnicodeError)

# What the generated parsers raise on a body they cannot read (RecursionError: JSON nested too deep).
_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, RecursionError)


def _call_outcome(started: float, current: Exchange, **fields: Any) -> CallOutcome[Any]:
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


def _failed_send(started: float, current: Exchange, error: Exception) -> CallOutcome[Any]:
    """The outcome of an attempt that raised ``error``; ``error`` again if it is not the call's to report."""
    if isinstance(error, TimeoutError):  # the async driver's deadline
        return _call_outcome(started, current, error=httpx.ReadTimeout("the call's timeout passed"))
    if isinstance(error, httpx.HTTPError):
        return _call_outcome(started, current, error=error)
    if isinstance(error, _PARSE_ERRORS) and current.response is not None:
        return _call_outcome(started, current, parse_error=error)
    raise error


def _sync_send(effect: Send[Any]) -> CallOutcome[Any]:
    started = time.monotonic()
    with Exchange(effect.timeout, effect.deadline, effect.attempt) as current:
        try:
            return _call_outcome(started, current, parsed=effect.call.send())
        except Exception as error:
            return _failed_send(started, current, error)


def _log_transfer(method: str, effect: Put | Get, started: float, outcome: TransferOutcome) -> TransferOutcome:
    if logger.isEnabledFor(logging.INFO):
        response = outcome.response
        headers = response.headers if response is not None else httpx.Headers()
        log_attempt(
            method=method,
            path=shown_url(effect.url, path_only=True),
            attempt=effect.attempt,
            duration=time.monotonic() - started,
            status=response.status_code if response is not None else None,
            request_id=headers.get("x-oss-request-id") or headers.get("x-ca-request-id"),
            error=outcome.error,
        )
    return outcome


def _sync_body_head(response: httpx.Response) -> bytes:
    """The first bytes of a body that is not the file; one that fails to arrive is no
    worse than none (the status says what happened), unless the call's deadline passed."""
    head = b""
    try:
        for chunk in response.iter_bytes():
            head += chunk
            if len(head) >= ERROR_BODY_LIMIT:
                break
    except TRANSFER_FAILURES:
        if deadline_passed():
            raise
    return head[:ERROR_BODY_LIMIT]


def _sync_put(transport: Transport, effect: Put) -> TransferOutcome:
    started = time.monotonic()
    try:
        with (
            Exchange(None, effect.deadline),
            transport.sync_storage.stream(
                "PUT",
                effect.url,
                content=effect.source.iter_chunks(),
                headers=effect.headers,
                timeout=effect.timeout,
                follow_redirects=False,
            ) as response,
        ):
            outcome = TransferOutcome(response=response, body=_sync_body_head(response))
    except TRANSFER_FAILURES as error:
        outcome = TransferOutcome(error=error)
    return _log_transfer("PUT", effect, started, outcome)


def _sync_get(transport: Transport, effect: Get) -> TransferOutcome:
    started = time.monotonic()
    sink = effect.sink
    try:
        with Exchange(None, effect.deadline):
            storage = transport.sync_storage
            request = storage.build_request("GET", effect.url, timeout=effect.timeout)
            response = storage.send(request, stream=True, follow_redirects=False)
            if not delivers("GET", response.status_code):
                with contextlib.closing(response):
                    outcome = TransferOutcome(response=response, body=_sync_body_head(response))
            elif sink is None:
                outcome = TransferOutcome(response=response)  # handed over open, its body unread
            else:
                with contextlib.closing(response):
                    sink.open()
                    try:
                        for chunk in response.iter_bytes(CHUNK_SIZE):
                            sink.write(chunk)
                        sink.commit()
                    except BaseException:
                        sink.discard()
                        raise
                outcome = TransferOutcome(response=response)
    except TRANSFER_FAILURES as error:
        outcome = TransferOutcome(error=error)
    return _log_transfer("GET", effect, started, outcome)


def run_sync(flow: Flow[T], transport: Transport) -> T:
    """Drive ``flow`` to completion with blocking I/O and return its result."""
    steps = Steps(flow)
    for effect in steps:
        try:
            steps.value = _sync_effect(effect, transport)
        except Exception as exc:  # handed to the flow, which decides what it means
            steps.error = exc
    return steps.result


def _sync_effect(effect: Effect, transport: Transport) -> Any:
    if isinstance(effect, Send):
        return _sync_send(effect)
    if isinstance(effect, Sleep):
        time.sleep(max(effect.seconds, 0.0))
        return None
    if isinstance(effect, Put):
        return _sync_put(transport, effect)
    if isinstance(effect, Get):
        return _sync_get(transport, effect)
    if isinstance(effect, Blocking):
        return effect.fn()
    if isinstance(effect, Parallel):
        return [run_sync(child, transport) for child in effect.flows]
    if isinstance(effect, Wait):
        return effect.future.result(timeout=effect.remaining())
    if isinstance(effect, Notify):
        result = effect.callback(effect.argument)
        if inspect.isawaitable(result):
            getattr(result, "close", lambda: None)()  # a coroutine never awaited warns
            raise TypeError("an async on_progress callback needs async_run/async_wait")
        return None
    raise TypeError(f"unknown effect {effect!r}")


async def _async_chunks(source: ChunkSource) -> AsyncIterator[bytes]:
    chunks = source.iter_chunks()
    while True:
        chunk = await asyncio.to_thread(next, chunks, b"")  # no file I/O on the event loop
        if not chunk:
            return
        yield chunk


async def _async_send(transport: Transport, effect: Send[Any]) -> CallOutcome[Any]:
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
    head = b""
    try:
        async for chunk in response.aiter_bytes():
            head += chunk
            if len(head) >= ERROR_BODY_LIMIT:
                break
    except TRANSFER_FAILURES:
        if deadline_passed():
            raise
    return head[:ERROR_BODY_LIMIT]


async def _async_put(transport: Transport, effect: Put) -> TransferOutcome:
    started = time.monotonic()
    try:
        storage = await transport.async_storage()
        with Exchange(None, effect.deadline) as current:
            async with (
                asyncio.timeout(current.remaining()),
                storage.stream(
                    "PUT",
                    effect.url,
                    content=_async_chunks(effect.source),
                    headers=effect.headers,
                    timeout=effect.timeout,
                    follow_redirects=False,
                ) as response,
            ):
                outcome = TransferOutcome(response=response, body=await _async_body_head(response))
    except TimeoutError:  # the call's deadline
        outcome = TransferOutcome(error=httpx.WriteTimeout("the call's timeout passed during the upload"))
    except TRANSFER_FAILURES as error:
        outcome = TransferOutcome(error=error)
    return _log_transfer("PUT", effect, started, outcome)


async def _async_get(transport: Transport, effect: Get) -> TransferOutcome:
    started = time.monotonic()
    sink = effect.sink
    try:
        storage = await transport.async_storage()
        with Exchange(None, effect.deadline) as current:
            async with asyncio.timeout(current.remaining()):
                request = storage.build_request("GET", effect.url, timeout=effect.timeout)
                response = await storage.send(request, stream=True, follow_redirects=False)
                if not delivers("GET", response.status_code):
                    async with contextlib.aclosing(response):
                        outcome = TransferOutcome(response=response, body=await _async_body_head(response))
                elif sink is None:
                    outcome = TransferOutcome(response=response)  # handed over open, its body unread
                else:
                    async with contextlib.aclosing(response):
                        await _async_fill(sink, response)
                    outcome = TransferOutcome(response=response)
    except TimeoutError:  # the call's deadline
        outcome = TransferOutcome(error=httpx.ReadTimeout("the call's timeout passed during the download"))
    except TRANSFER_FAILURES as error:
        outcome = TransferOutcome(error=error)
    return _log_transfer("GET", effect, started, outcome)


async def _on(sink: Sink, method: Callable[..., None], *args: Any) -> None:
    """``method(*args)``, in a worker thread if ``sink`` is blocking (a storage sink's discard is network I/O)."""
    await asyncio.to_thread(method, *args) if sink.blocking else method(*args)


async def _async_fill(sink: Sink, response: httpx.Response) -> None:
    await _on(sink, sink.open)
    try:
        async for chunk in response.aiter_bytes(CHUNK_SIZE):
            await _on(sink, sink.write, chunk)
        await _on(sink, sink.commit)
    except Exception:
        await _on(sink, sink.discard)
        raise
    except BaseException:  # cancelled: at once, without awaiting
        sink.discard()
        raise


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
    steps = Steps(flow)
    for effect in steps:
        try:
            steps.value = await _async_effect(effect, transport)
        except Exception as exc:  # handed to the flow, which decides what it means
            steps.error = exc
    return steps.result


async def _async_effect(effect: Effect, transport: Transport) -> Any:
    if isinstance(effect, Send):
        return await _async_send(transport, effect)
    if isinstance(effect, Sleep):
        await asyncio.sleep(max(effect.seconds, 0.0))
        return None
    if isinstance(effect, Put):
        return await _async_put(transport, effect)
    if isinstance(effect, Get):
        return await _async_get(transport, effect)
    if isinstance(effect, Blocking):
        return await asyncio.to_thread(effect.fn)
    if isinstance(effect, Parallel):
        return await _async_parallel(effect, transport)
    if isinstance(effect, Wait):
        async with asyncio.timeout(effect.remaining()):
            # shield: a timeout here must not cancel the future other flows wait on
            return await asyncio.shield(asyncio.wrap_future(effect.future))
    if isinstance(effect, Notify):
        result = effect.callback(effect.argument)
        if inspect.isawaitable(result):
            await result
        return None
    raise TypeError(f"unknown effect {effect!r}")
