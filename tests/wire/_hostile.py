"""A hostile HTTP/1.1 server on loopback, whose bytes a test scripts per connection.

``Hostile(handler)`` listens on 127.0.0.1 and runs ``handler(conn)`` in a thread for
every connection it accepts; the handler reads requests with :meth:`Conn.read_request`
and writes whatever raw bytes the test wants. Every request read is recorded on the
server (``server.requests``), so a test can count what reached it. ``close()`` (or
leaving the ``with`` block) closes the listening socket and every connection, and
joins every thread: nothing it opened outlives it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which accepted connection (1, 2, ...) carried it

    def json(self) -> Any:
        return json.loads(self.body)


class Conn:
    """One accepted connection, as a handler sees it."""

    def __init__(self, server: Hostile, sock: socket.socket, number: int) -> None:
        self.server = server
        self.sock = sock
        self.number = number
        self._buffer = b""

    def read_request(self) -> Request | None:
        """The next request on this connection (head and Content-Length body), or
        None when the client closed it first."""
        while b"\r\n\r\n" not in self._buffer:
            if not self._fill():
                return None
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            if not self._fill():
                return None
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        request = Request(method, path, headers, body, self.number)
        self.server._record(request)
        return request

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except OSError:
            return False
        self._buffer += data
        return bool(data)

    def send(self, data: bytes) -> None:
        """Write ``data`` in one ``sendall``."""
        self.sock.sendall(data)

    def trickle(self, data: bytes, interval: float) -> None:
        """Write ``data`` one byte every ``interval`` seconds (until the server stops)."""
        for i in range(len(data)):
            if self.server.stopping.wait(interval):
                return
            self.sock.sendall(data[i : i + 1])

    def send_forever(self, chunk: bytes) -> None:
        """Write ``chunk`` again and again until the client hangs up or the server stops."""
        while not self.server.stopping.is_set():
            self.sock.sendall(chunk)

    def hang_up(self) -> None:
        """Close the connection now (the client sees EOF)."""
        self.sock.shutdown(socket.SHUT_RDWR)


Handler = Callable[[Conn], None]


class Hostile:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopping = threading.Event()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.accepted = 0
        self._acceptor = threading.Thread(target=self._accept_loop, name="hostile-accept", daemon=True)
        self._acceptor.start()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def paths(self) -> list[str]:
        with self._lock:
            return [request.path for request in self.requests]

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            with self._lock:
                if self.stopping.is_set():
                    sock.close()
                    return
                self.accepted += 1
                conn = Conn(self, sock, self.accepted)
                self._sockets.append(sock)
                thread = threading.Thread(target=self._serve, args=(conn,), name="hostile-conn", daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: Conn) -> None:
        try:
            self._handler(conn)
            # Keep the connection open until the client closes it (or the server stops),
            # so that a reply is never cut short by our own close.
            conn.sock.settimeout(0.05)
            while not self.stopping.is_set():
                try:
                    if not conn.sock.recv(65536):
                        return
                except TimeoutError:
                    continue
        except OSError:
            pass  # the client hung up on a hostile reply: what the test wanted
        finally:
            conn.sock.close()

    def close(self) -> None:
        self.stopping.set()
        # shutdown() first: it wakes a thread blocked in accept() or recv() on Linux.
        with self._lock:
            sockets = list(self._sockets)
        for sock in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._acceptor.join(5)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)
        for sock in sockets:
            sock.close()
        assert not any(t.is_alive() for t in [self._acceptor, *threads]), "a hostile-server thread did not end"

    def __enter__(self) -> Hostile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ---------------------------------------------------------------- replies


def reply(body: bytes | dict[str, Any], *, status: str = "200 OK", headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 reply with a Content-Length."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    fields = {"Content-Type": "application/json", "Content-Length": str(len(raw)), **(headers or {})}
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("latin-1") + raw


def envelope(data: dict[str, Any]) -> dict[str, Any]:
    """The gateway's success envelope around ``data``."""
    return {
        "status": 10,
        "apiInvokeId": "i_hostile",
        "data": data,
        "errCode": None,
        "errMessage": None,
        "subErrCode": None,
        "subErrMessage": None,
    }


def progress(task_id: str, status: str = "running", value: float = 0.5, message: str = "") -> bytes:
    data = {"taskId": task_id, "status": status, "progress": value, "etaRelative": 30, "message": message}
    return reply(envelope(data))


def submitted(task_id: str) -> bytes:
    return reply(envelope({"taskId": task_id, "status": "waiting"}))


def serve_each(answer: Callable[[Conn, Request], None]) -> Handler:
    """A handler that answers every request of a connection with ``answer``."""

    def handler(conn: Conn) -> None:
        while (request := conn.read_request()) is not None:
            answer(conn, request)

    return handler


# ---------------------------------------------------------------- compression bombs

_MIB = 1 << 20
BOMB_SIZE = 1 << 30  # what the bombs inflate to


@cache
def _raw_deflate_bomb() -> bytes:
    """A raw deflate stream (about 1 MB) of :data:`BOMB_SIZE` zero bytes, built without
    holding them: after a full flush the compressor starts afresh, so every 1 MiB of
    zeros compresses to the same bytes, which are repeated."""
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = block.compress(bytes(_MIB)) + block.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    return one * (BOMB_SIZE // _MIB) + end


@cache
def _crc32() -> int:
    crc, zeros = 0, bytes(_MIB)
    for _ in range(BOMB_SIZE // _MIB):
        crc = zlib.crc32(zeros, crc)
    return crc


@cache
def gzip_bomb() -> bytes:
    """A valid gzip member of 1 GiB of zeros."""
    crc = _crc32()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"
    return header + _raw_deflate_bomb() + crc.to_bytes(4, "little") + (BOMB_SIZE % (1 << 32)).to_bytes(4, "little")


@cache
def zlib_bomb() -> bytes:
    """A valid zlib stream (HTTP's ``deflate``) of 1 GiB of zeros."""
    # Adler-32 of n zero bytes: its sums are 1 and n (mod 65521).
    adler = (BOMB_SIZE % 65521) << 16 | 1
    return b"\x78\xda" + _raw_deflate_bomb() + adler.to_bytes(4, "big")


#: One chunk of an endless chunked body, for :meth:`Conn.send_forever`.
CHUNK_FRAME = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
