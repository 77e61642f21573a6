"""A loopback HTTP/1.1 server whose every reply a test scripts.

It serves what a hostile or broken storage host (or gateway) would: odd statuses,
redirects, broken encodings, bodies cut short or endless, over plain TCP or TLS. Each
connection answers one request and closes, so nothing of one reply leaks into the next.
It parses just enough HTTP to read a request; it is a test tool, not a server.

::

    with HostileServer() as server:
        server.route("/x.png", Reply(200, body=b"..."))
        server.route("/loop", lambda request: Reply(302, [("location", "/loop")]))
        url = server.url("/x.png")
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_HEAD = 256 * 1024
MAX_BODY = 64 * 1024 * 1024


@dataclass
class Request:
    method: str
    target: str  # as sent: percent-encoding kept, query included
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class Reply:
    """A response. ``body`` is bytes or chunks (sent with ``delay`` seconds before each);
    a ``content-length`` header is added unless ``headers`` has one (then the body may
    be shorter: a reply cut short). ``raw`` replaces everything with exactly those bytes."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""
    delay: float = 0.0
    raw: bytes | None = None


Handler = Reply | Callable[[Request], Reply]


class HostileServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._routes: dict[str, Handler] = {}
        self._default: Handler = Reply(404, [("content-type", "text/plain")], b"no route")
        self.requests: list[Request] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)  # accept() wakes up to notice stop
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"hostile:{self.port}", daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    @property
    def origin(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, target: str) -> str:
        return self.origin + target

    def route(self, path: str, handler: Handler) -> None:
        """Answer requests for ``path`` (the target before any query, as sent)."""
        self._routes[path] = handler

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    # -- serving ----------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            conn.settimeout(10)
            request = _read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            handler = self._routes.get(request.path, self._default)
            reply = handler(request) if callable(handler) else handler
            _send(conn, reply)
        except (OSError, ssl.SSLError):
            pass  # the client went away: that is what many of these tests provoke
        finally:
            conn.close()


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_HEAD:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = rest
    while len(body) < min(length, MAX_BODY):
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, target, headers, body)


def _send(conn: socket.socket, reply: Reply) -> None:
    if reply.raw is not None:
        conn.sendall(reply.raw)
        return
    chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
    headers = list(reply.headers)
    names = {name.lower() for name, _ in headers}
    if "content-length" not in names:
        if not isinstance(reply.body, bytes):
            chunks = [b"".join(chunks)]
        headers.append(("content-length", str(sum(len(c) for c in chunks))))
    headers.append(("connection", "close"))
    head = f"HTTP/1.1 {reply.status} {_reason(reply.status)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    conn.sendall(head.encode("latin-1"))
    for chunk in chunks:
        if reply.delay:
            time.sleep(reply.delay)
        conn.sendall(chunk)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Whatever"


def envelope(data: Any) -> Reply:
    """A gateway reply: the API's JSON envelope with ``data`` (for a hostile gateway)."""
    import json

    body = json.dumps({"status": 10, "apiInvokeId": "i_hostile", "data": data}).encode()
    return Reply(200, [("content-type", "application/json"), ("x-ca-request-id", "HOSTILE-1")], body)
