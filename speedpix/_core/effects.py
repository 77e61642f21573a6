"""The effects a flow (a generator, written once) asks the sync or async driver to perform."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx

from speedpix_api.types import Response, Unset

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
    """The business gateway's envelope, which every response model of the spec is (its
    ``err_code``, ``err_message``, ``sub_err_*`` are read by name)."""

    @property
    def status(self) -> int: ...
    @property
    def api_invoke_id(self) -> str | Unset | None: ...
    @property
    def data(self) -> object: ...


E = TypeVar("E", bound=Envelope)


@dataclass(frozen=True)
class Call(Generic[E]):
    """One gateway call, ready to send (and to send again), for each driver."""

    name: str
    idempotent: bool
    send: Callable[[], Response[E]]
    asend: Callable[[], Awaitable[Response[E]]]


@dataclass(frozen=True)
class CallOutcome(Generic[E]):
    """What one attempt of a :class:`Call` led to: the generated layer's answer, the response
    (kept when the parser failed on it), or the httpx error that left none."""

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
    """Stream a file to a presigned upload URL (unsigned, redirects not followed)."""

    url: str
    source: ChunkSource
    headers: dict[str, str]
    timeout: httpx.Timeout
    attempt: int
    deadline: float | None = None


@dataclass(frozen=True)
class Get:
    """Stream a storage URL (unsigned, redirects not followed) into ``sink`` when the response
    is the file; with no sink, hand the response over open, its body unread."""

    url: str
    sink: Sink | None
    timeout: httpx.Timeout
    attempt: int
    deadline: float | None = None


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


@dataclass(frozen=True)
class Wait:
    """Wait for another flow's result (set from any thread or loop) until ``deadline``:
    the result, the exception the future holds, or ``TimeoutError``."""

    future: Future[Any]
    deadline: float | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)


Effect = Send[Any] | Put | Get | Sleep | Blocking | Parallel | Notify | Wait


class Steps(Generic[T]):
    """A flow as a driver steps it: iterating gives its effects; the driver sets ``value``
    (or ``error``) to each one's outcome; ``result`` is what the flow returned."""

    result: T

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self.value: Any = None
        self.error: BaseException | None = None

    def __iter__(self) -> Steps[T]:
        return self

    def __next__(self) -> Effect:
        value, error = self.value, self.error
        self.value = self.error = None
        try:
            return self._flow.throw(error) if error is not None else self._flow.send(value)
        except StopIteration as stop:
            self.result = stop.value
            raise StopIteration from None


@dataclass(frozen=True)
class TransferOutcome:
    """What a :class:`Put` or :class:`Get` led to: a response (``body``: its first bytes when
    not sunk), or the error that left no usable reply."""

    response: httpx.Response | None = None
    error: Exception | None = None
    body: bytes = b""


# Bytes kept of a storage response that is not the file (an error document is < 1 KiB):
# a hostile server's endless error body is never read into memory.
ERROR_BODY_LIMIT = 8 * 1024


class RefusedReply(httpx.DecodingError):
    """A reply that the SDK refuses to read: an encoding it did not ask for, or too large."""
