"""Serving the app with uvicorn on a background thread.

Three things uvicorn does not do out of the box, and how they are done here:

- **Dropping a connection without a response** (the ``drop_*`` faults). ASGI gives
  an app no access to the socket, so the HTTP protocol class is subclassed: each
  connection wraps the app so that its scope carries a callable (``ABORT_EXTENSION``)
  closing that connection's transport. It is passed to ``uvicorn.Config(http=...)``.
- **Fast start and stop.** The socket is bound before the server starts (so port 0
  is resolved at once), the main loop waits on an event instead of polling every
  0.1 s, and shutdown skips the fixed grace sleeps; tests start many emulators.
- **No global side effects**: no signal handlers (a background thread cannot have
  them anyway), no logging configuration (``log_config=None``).
- **A bound on request heads**, as a gateway has (a 200 MB header must not take the
  hosting process's memory): ``MAX_HEAD_BYTES``, answered 431 and the connection
  closed. uvicorn's h11 protocol takes it as an option; with httptools, whose parser
  keeps any header whole, the protocol counts the bytes of a head that spans reads.

uvicorn is imported only here, and only when an Emulator is created.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from ._app import ABORT_EXTENSION, EmulatorApp

MISSING_EXTRA = (
    "speedpix.testing needs the 'testing' extra: install this SDK with it, e.g. pip install '.[testing]' in its "
    "clone (PyPI's speedpix is the original 1.0.4 SDK, without it)"
)
_STOP_GRACE_S = 2.0
#: The most a request's line and headers may take.
MAX_HEAD_BYTES = 64 * 1024
_HEAD_TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 32\r\nconnection: close\r\n\r\nRequest Header Fields Too Large\n"
)


class MissingExtraError(ImportError):
    """The emulator's server dependencies (the ``testing`` extra) are not installed."""


def require_uvicorn() -> None:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        raise MissingExtraError(MISSING_EXTRA) from None


def _protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's fastest available HTTP/1.1 protocol, able to drop its connection."""
    base: type[Any]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = _head_limited(HttpToolsProtocol)
    except ImportError:  # httptools is optional in uvicorn; h11 always works
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol  # bounded by Config(h11_max_incomplete_event_size=...)

    class AbortableProtocol(base):  # type: ignore[misc]
        app: Any

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            inner: Any = self.app

            def abort() -> None:
                self.transport.close()

            async def app(scope: Any, receive: Any, send: Any) -> None:
                extensions = scope.get("extensions")
                if extensions is None:
                    scope["extensions"] = extensions = {}
                extensions[ABORT_EXTENSION] = abort
                await inner(scope, receive, send)

            self.app = app

    return AbortableProtocol


def _head_limited(base: type[Any]) -> type[Any]:
    """``base`` (uvicorn's httptools protocol) refusing heads over ``MAX_HEAD_BYTES``.

    A whole head is measured when it is complete. httptools offers no limit and reports
    a header only once it is whole, so to bound memory the bytes of every read that ends
    inside a head are counted too (a read in which a request ended starts the count
    afresh: at most one read of the next head goes uncounted).
    """

    class HeadLimitedProtocol(base):  # type: ignore[misc]
        transport: asyncio.Transport
        url: bytes
        headers: list[tuple[bytes, bytes]]
        _head_bytes = 0
        _in_head = True
        _ended = 0  # requests whose end was parsed
        _refused = False

        def data_received(self, data: bytes) -> None:
            ended = self._ended
            super().data_received(data)
            if not self._in_head or self.transport.is_closing():
                return
            if self._ended != ended:
                self._head_bytes = 0
                return
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()

        def on_headers_complete(self) -> None:
            if len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) > MAX_HEAD_BYTES:
                self._refused = True
                # Stops the parser; uvicorn answers a parser error with send_400_response.
                raise _HeadTooLarge
            self._in_head, self._head_bytes = False, 0
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head = True
            self._ended += 1

        def send_400_response(self, msg: str) -> None:
            if self._refused:
                self._refuse_head()
            else:
                super().send_400_response(msg)

        def _refuse_head(self) -> None:
            self._refused = True
            if not self.transport.is_closing():
                self.transport.write(_HEAD_TOO_LARGE_RESPONSE)
                self.transport.close()

    return HeadLimitedProtocol


class _HeadTooLarge(Exception):
    pass


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _peer_closed(sock: Any) -> bool:
    """Whether the client closed this connection (its FIN or RST has arrived), without
    reading anything: a poll for the peer's hang-up, else a non-blocking peek, where
    b"" is end-of-file."""
    try:
        fd = sock.fileno()
    except (OSError, ValueError):
        return True
    if fd < 0:
        return True
    rdhup = getattr(select, "POLLRDHUP", None)
    if rdhup is not None:
        poller = select.poll()
        poller.register(fd, rdhup)
        return any(events & (rdhup | select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))
    with socket.socket(fileno=socket.dup(fd)) as peek:  # a duplicate: closing it leaves ours open
        try:
            return peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # nothing to read: open and idle
        except OSError:
            return True  # reset by the peer


def _count_open(connections: Any) -> int:
    count = 0
    for protocol in list(connections):
        transport = getattr(protocol, "transport", None)
        if transport is None or transport.is_closing():
            continue
        sock = transport.get_extra_info("socket")
        if sock is None or not _peer_closed(sock):
            count += 1
    return count


class ServerThread:
    """Runs ``app`` with uvicorn on its own thread and event loop."""

    def __init__(self, app: EmulatorApp, host: str, port: int) -> None:
        self.app = app
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
            self._sock.listen(2048)
        except OSError:
            self._sock.close()
            raise
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._wake: asyncio.Event | None = None
        self._server: Any = None
        self._thread = threading.Thread(target=self._run, name=f"speedpix-emulator:{self.port}", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        while not self._ready.wait(0.005):
            if not self._thread.is_alive() or timeout <= 0:
                break
            timeout -= 0.005
        if self._error is not None:
            raise RuntimeError(f"the emulator failed to start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError("the emulator failed to start in time")

    def stop(self, timeout: float = 10.0) -> None:
        loop, server = self.loop, self._server
        if loop is not None and server is not None and self._thread.is_alive():

            def request_exit() -> None:
                server.should_exit = True
                if self._wake is not None:
                    self._wake.set()

            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(request_exit)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    @property
    def open_connections(self) -> int:
        """Client connections open right now, exactly: a connection its client has closed
        is not counted even before the server's loop has noticed (each socket is checked
        for the peer's FIN/RST at the time of reading). Counted on the server's loop,
        where the connections and their sockets cannot change meanwhile."""
        server, loop = self._server, self.loop
        if server is None or loop is None or not hasattr(server, "server_state"):
            return 0
        connections = server.server_state.connections
        if threading.current_thread() is self._thread:
            return _count_open(connections)
        future: concurrent.futures.Future[int] = concurrent.futures.Future()

        def count() -> None:
            try:
                future.set_result(_count_open(connections))
            except BaseException as error:  # reported to the reader
                future.set_exception(error)

        try:
            loop.call_soon_threadsafe(count)
        except RuntimeError:  # the loop has closed: the server has stopped
            return 0
        try:
            return future.result(timeout=5.0)
        except concurrent.futures.TimeoutError:  # a loop blocked or stopping: what it knows
            return len(connections)

    def _run(self) -> None:
        import uvicorn

        outer = self

        class Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                loop = asyncio.get_running_loop()
                outer.loop = loop
                outer._wake = asyncio.Event()
                outer.app.bind_loop(loop)
                outer._ready.set()

            async def main_loop(self) -> None:
                # Wake on stop() at once; otherwise tick each second so uvicorn keeps
                # its cached Date header current.
                assert outer._wake is not None
                while not self.should_exit:
                    await self.on_tick(0)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(outer._wake.wait(), 1.0)

            async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
                await outer._shutdown(self)

        config = uvicorn.Config(
            self.app,
            http=_protocol_class(),
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=30,
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        )
        self._server = server = Server(config)
        try:
            factory = _loop_factory()
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported to start(); nothing else can see it
            self._error = exc

    async def _shutdown(self, server: Any) -> None:
        """Stop accepting, let in-flight requests finish briefly, then close the rest."""
        for listener in server.servers:
            listener.close()
        self.app.begin_shutdown()
        state = server.server_state
        for connection in list(state.connections):
            connection.shutdown()  # closes idle keep-alive connections at once
        deadline = asyncio.get_running_loop().time() + _STOP_GRACE_S
        while state.tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        for connection in list(state.connections):
            connection.transport.close()
        for task in list(state.tasks):
            task.cancel()
        if state.tasks:
            await asyncio.gather(*state.tasks, return_exceptions=True)
        for listener in server.servers:
            await listener.wait_closed()
