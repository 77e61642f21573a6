"""The part of HTTP/1.1 a gateway call needs, sans-I/O: a request to bytes, bytes to a response.

:class:`~speedpix._gateway_transport.AsyncGatewayTransport` sends one request at a time on a
keep-alive connection and reads the whole response. h11 does that and much more, but
its general machinery cost a fifth of each request's CPU with hundreds of tasks in
flight. This module does only this part, strictly: CRLF or bare-LF line ends,
``Content-Length``, ``chunked`` and read-until-close bodies, informational (1xx)
responses skipped, ``Connection: close`` and HTTP/1.0 honoured, header injection
refused. No I/O here: the transport feeds bytes in and takes responses out, so every
rule is unit-tested without a socket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

MAX_HEAD_SIZE: Final = 64 * 1024
# Gateway replies are small JSON envelopes; anything near this is not one.
MAX_BODY_SIZE: Final = 64 * 1024 * 1024

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: (.*))?")
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_UNSAFE_VALUE = re.compile(rb"[\r\n\0]")
_LENGTH_VALUE = re.compile(rb"[0-9]{1,19}")  # at most 19 digits: int() of a huge one raises
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;.*)?")


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 (or we were asked to): the connection cannot go on."""


def encode_request(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """The bytes of a request whose body is known in full.

    ``headers`` must describe the body (``Content-Length``, or ``Transfer-Encoding:
    chunked``, which sends it as one chunk). Raises :class:`ProtocolError` for a name
    that is not a token or a value holding CR, LF or NUL (header injection).
    """
    lines = [method + b" " + target + b" HTTP/1.1"]
    chunked = False
    for name, value in headers:
        if not _TOKEN.fullmatch(name) or _UNSAFE_VALUE.search(value):
            raise ProtocolError(f"invalid header {name!r}: names are tokens, values have no CR, LF or NUL")
        lines.append(name + b": " + value)
        chunked = chunked or (name.lower() == b"transfer-encoding" and value.lower() == b"chunked")
    if chunked:
        body = (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@dataclass(frozen=True)
class Response:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]  # names as sent, in order
    body: bytes
    http_version: bytes  # b"HTTP/1.1" or b"HTTP/1.0"
    keep_alive: bool  # the connection may carry another request


# Body framing, decided by the head.
_LENGTH, _CHUNKED, _UNTIL_CLOSE = "length", "chunked", "until-close"


@dataclass
class _Head:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    http_version: bytes
    keep_alive: bool
    framing: str
    length: int = 0


def _parse_head(block: bytes, *, head_request: bool) -> _Head:
    lines = _LINE_END.split(block)
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    minor, status, reason = match.group(1), int(match.group(2)), match.group(3) or b""
    if _UNSAFE_VALUE.search(reason):
        raise ProtocolError(f"a reason phrase with CR or NUL: {reason[:80]!r}")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if _UNSAFE_VALUE.search(line):  # a bare CR or a NUL: refused, as h11 and RFC 9110 do
            raise ProtocolError(f"malformed header line (CR or NUL): {line[:80]!r}")
        if line[:1] in (b" ", b"\t"):  # obsolete line folding: part of the previous value
            if not headers:
                raise ProtocolError("a folded header line with no header before it")
            name, value = headers[-1]
            headers[-1] = (name, (value + b" " + line.strip(b" \t")).strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise ProtocolError(f"malformed header line: {line[:80]!r}")
        headers.append((name, value.strip(b" \t")))

    lengths: set[bytes] = set()
    codings: list[bytes] = []
    connection: list[bytes] = []
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length":
            lengths.update(part.strip() for part in value.split(b","))
        elif lower == b"transfer-encoding":
            codings += [part.strip().lower() for part in value.split(b",")]
        elif lower == b"connection":
            connection += [part.strip().lower() for part in value.split(b",")]
    version = b"HTTP/1." + minor
    keep_alive = minor == b"1" and b"close" not in connection
    head = _Head(status, reason, headers, version, keep_alive, _LENGTH)
    if head_request or status in (204, 304) or 100 <= status < 200:
        return head  # no body
    if codings:
        if codings[-1] != b"chunked":
            # The length is unknown: the body ends when the server closes.
            head.framing, head.keep_alive = _UNTIL_CLOSE, False
        else:
            head.framing = _CHUNKED
            head.keep_alive = head.keep_alive and not lengths  # both framings given: smuggling-prone
        return head
    if lengths:
        if len(lengths) > 1 or not all(_LENGTH_VALUE.fullmatch(value) for value in lengths):
            raise ProtocolError(f"invalid Content-Length {sorted(lengths)!r}")
        head.length = int(lengths.pop())
        if head.length > MAX_BODY_SIZE:
            raise ProtocolError(f"response body of {head.length} bytes is too large for a gateway reply")
        return head
    head.framing, head.keep_alive = _UNTIL_CLOSE, False
    return head


class ResponseParser:
    """Bytes in (:meth:`receive`, :meth:`receive_eof`), one response out (:meth:`next_response`).

    For one request at a time: after a response, any bytes left over make
    :attr:`clean` False, and the connection should not be reused.
    """

    def __init__(self, *, head_request: bool = False) -> None:
        self._buffer = bytearray()
        self._eof = False
        self._head_request = head_request
        self._head: _Head | None = None
        self._body = bytearray()
        self._chunk_left: int | None = None  # bytes left in the current chunk, None between chunks

    def receive(self, data: bytes) -> None:
        self._buffer += data

    def receive_eof(self) -> None:
        self._eof = True

    @property
    def clean(self) -> bool:
        """Nothing was received beyond the response."""
        return not self._buffer and not self._eof

    def next_response(self) -> Response | None:
        """The complete response, or None if more bytes are needed; raises :class:`ProtocolError`."""
        while self._head is None:
            match = _HEAD_END.search(self._buffer)
            if match is None:
                if len(self._buffer) > MAX_HEAD_SIZE:
                    raise ProtocolError("response head too large")
                if self._eof:
                    detail = "before sending a response" if not self._buffer else "in the middle of the response head"
                    raise ProtocolError(f"the server closed the connection {detail}")
                return None
            head = _parse_head(bytes(self._buffer[: match.start()]), head_request=self._head_request)
            del self._buffer[: match.end()]
            if 100 <= head.status < 200:
                if head.status == 101:
                    raise ProtocolError("the server switched protocols")
                continue  # 100 Continue and the like: the real response follows
            self._head = head
        body = self._read_body(self._head)
        if body is None:
            return None
        head = self._head
        return Response(head.status, head.reason, head.headers, body, head.http_version, head.keep_alive)

    def _read_body(self, head: _Head) -> bytes | None:
        if head.framing == _LENGTH:
            if len(self._buffer) < head.length:
                if self._eof:
                    raise ProtocolError("the server closed the connection before the end of the response body")
                return None
            body = bytes(self._buffer[: head.length])
            del self._buffer[: head.length]
            return body
        if head.framing == _UNTIL_CLOSE:
            if len(self._buffer) > MAX_BODY_SIZE:
                raise ProtocolError("response body too large for a gateway reply")
            if not self._eof:
                return None
            body = bytes(self._buffer)
            self._buffer.clear()
            return body
        return self._read_chunks()

    def _read_chunks(self) -> bytes | None:
        buffer = self._buffer
        while True:
            if self._chunk_left is None:  # a size line, or the trailers after the last chunk
                match = _LINE_END.search(buffer)
                if match is None:
                    self._check_incomplete(too_long=len(buffer) > 1024)
                    return None
                line = bytes(buffer[: match.start()])
                size = _CHUNK_SIZE.fullmatch(line)
                if size is None:
                    raise ProtocolError(f"invalid chunk size line {line[:40]!r}")
                self._chunk_left = int(size.group(1), 16)
                if self._chunk_left == 0:
                    end = _HEAD_END.search(buffer, match.start())  # trailers end with an empty line
                    if end is None:
                        self._chunk_left = None
                        self._check_incomplete(too_long=len(buffer) > MAX_HEAD_SIZE)
                        return None
                    del buffer[: end.end()]
                    self._chunk_left = None
                    return bytes(self._body)
                del buffer[: match.end()]
                if len(self._body) + self._chunk_left > MAX_BODY_SIZE:
                    raise ProtocolError("response body too large for a gateway reply")
            data_end = self._chunk_left
            match = _LINE_END.match(buffer, data_end)
            if match is None:
                if len(buffer) >= data_end + 2:
                    raise ProtocolError("a chunk is not followed by CRLF")
                self._check_incomplete(too_long=False)
                return None
            self._body += buffer[:data_end]
            del buffer[: match.end()]
            self._chunk_left = None

    def _check_incomplete(self, *, too_long: bool) -> None:
        """More bytes are needed: raise if they cannot come (EOF) or the line is absurd."""
        if too_long:
            raise ProtocolError("malformed chunked body")
        if self._eof:
            raise ProtocolError("the server closed the connection before the end of the response body")
