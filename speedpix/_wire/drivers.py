"""The two drivers: :func:`run_sync` and :func:`run_async` carry out the effects a flow
yields (:mod:`speedpix._core.effects`) with blocking and with asyncio I/O, and hand
each outcome back. They hold no decisions: what to retry, how long to sleep and what
to upload are decided in the flows, identically for both.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator
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

# What the HTTP library raises for a storage request that got no usable reply; the
# drivers hand each to the flow as an outcome, never as a raw exception.
TRANSFER_FAILURES = (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, UnicodeError)


# ---------------------------------------------------------------- sync driver


# What the generated parsers raise on a body they cannot read: a 200 that is not the envelope,
# or JSON nested deeper than the decoder's recursion allows (RecursionError).
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


def _failed_send(started: float, current: Exchange, error: Exception) -> CallOutcome[Any] | None:
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
    with Exchange(effect.timeout, effect.deadline, effect.attempt) as current:
        try:
            return _call_outcome(started, current, parsed=effect.call.send())
        except Exception as error:
            outcome = _failed_send(started, current, error)
            if outcome is None:
                raise
            return outcome


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


class _Head:
    """The first ``ERROR_BODY_LIMIT`` bytes of a body that is not the file. The status
    says what happened, so ``with`` it, a body that fails to arrive is no worse than
    none, unless the call's deadline passed: then the call is over."""

    def __init__(self) -> None:
        self.data = b""

    def full(self, chunk: bytes) -> bool:
        self.data += chunk
        return len(self.data) >= ERROR_BODY_LIMIT

    def __enter__(self) -> _Head:
        return self

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> bool:
        return isinstance(error, TRANSFER_FAILURES) and not deadline_passed()


def _sync_body_head(response: httpx.Response) -> bytes:
    with _Head() as head:
        for chunk in response.iter_bytes():
            if head.full(chunk):
                break
    return head.data[:ERROR_BODY_LIMIT]


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
            handed_over = False
            try:
                if not delivers("GET", response.status_code):
                    outcome = TransferOutcome(response=response, body=_sync_body_head(response))
                elif sink is None:
                    outcome, handed_over = TransferOutcome(response=response), True
                else:
                    sink.open()
                    try:
                        for chunk in response.iter_bytes(CHUNK_SIZE):
                            sink.write(chunk)
                        sink.commit()
                    except BaseException:
                        sink.discard()
                        raise
                    outcome = TransferOutcome(response=response)
            finally:
                if not handed_over:
                    response.close()
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
            close = getattr(result, "close", None)
            if close is not None:
                close()
            raise TypeError("an async on_progress callback needs async_run/async_wait")
        return None
    raise TypeError(f"unknown effect {effect!r}")


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
            outcome = _failed_send(started, current, error)
            if outcome is None:
                raise
            return outcome


async def _async_body_head(response: httpx.Response) -> bytes:
    with _Head() as head:
        async for chunk in response.aiter_bytes():
            if head.full(chunk):
                break
    return head.data[:ERROR_BODY_LIMIT]


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
                handed_over = False
                try:
                    if not delivers("GET", response.status_code):
                        outcome = TransferOutcome(response=response, body=await _async_body_head(response))
                    elif sink is None:
                        outcome, handed_over = TransferOutcome(response=response), True
                    else:
                        await _async_fill(sink, response)
                        outcome = TransferOutcome(response=response)
                finally:
                    if not handed_over:
                        await response.aclose()
    except TimeoutError:  # the call's deadline
        outcome = TransferOutcome(error=httpx.ReadTimeout("the call's timeout passed during the download"))
    except TRANSFER_FAILURES as error:
        outcome = TransferOutcome(error=error)
    return _log_transfer("GET", effect, started, outcome)


async def _async_fill(sink: Sink, response: httpx.Response) -> None:
    """Stream ``response`` into ``sink``; a blocking sink is written off the event loop."""
    await asyncio.to_thread(sink.open) if sink.blocking else sink.open()
    try:
        async for chunk in response.aiter_bytes(CHUNK_SIZE):
            if sink.blocking:
                await asyncio.to_thread(sink.write, chunk)
            else:
                sink.write(chunk)
        await asyncio.to_thread(sink.commit) if sink.blocking else sink.commit()
    except Exception:
        # Off the event loop too: a storage sink's discard is network I/O (abort, delete).
        await asyncio.to_thread(sink.discard) if sink.blocking else sink.discard()
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
