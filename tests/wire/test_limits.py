"""Hostile reply sizes and encodings on a gateway call: refused, typed, in bounded memory.

One hostile server plays every case; the task id of ``predictions.get(task_id)`` (the
``comfy_get_progress`` body) says which reply it gets. Each case runs in this process
under tracemalloc (peak Python memory of the call), and all of them once more in a
fresh interpreter whose peak RSS is measured (what the operating system saw).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from speedpix.errors import APIConnectionError, MalformedResponseError, SpeedPixException

from ._hostile import CHUNK_FRAME, Conn, Hostile, Request, gzip_bomb, reply, serve_each, zlib_bomb
from .conftest import Connect, measure

JSON_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
BODY = b'{"status": 10, "data": {"taskId": "t", "status": "running"}}'


def endless_chunked(conn: Conn) -> None:
    conn.send((JSON_HEAD + "Transfer-Encoding: chunked\r\n\r\n").encode())
    conn.send_forever(CHUNK_FRAME)


def huge_length(conn: Conn) -> None:
    conn.send((JSON_HEAD + f"Content-Length: {500_000_000}\r\n\r\n").encode())
    conn.send_forever(b"x" * 65536)


def many_headers(conn: Conn) -> None:
    fields = "".join(f"X-H{i}: v\r\n" for i in range(100_000))
    conn.send((JSON_HEAD + fields + f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY)


def long_header(conn: Conn) -> None:
    line = "X-Big: " + "a" * (10 << 20) + "\r\n"
    conn.send((JSON_HEAD + line + f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY)


def encoded(encoding: str, body: Callable[[], bytes]) -> Callable[[Conn], None]:
    def send(conn: Conn) -> None:
        conn.send(reply(body(), headers={"Content-Encoding": encoding}))

    return send


CASES: dict[str, Callable[[Conn], None]] = {
    "endless-chunked": endless_chunked,
    "500MB-content-length": huge_length,
    "100k-headers": many_headers,
    "10MB-header-line": long_header,
    "gzip-1GB-bomb": encoded("gzip", gzip_bomb),
    "deflate-1GB-bomb": encoded("deflate", zlib_bomb),
    # No brotli decoder is installed: httpx would pass the body through as it is, so a
    # valid envelope labelled br would be believed if the label were not checked.
    "br": encoded("br", lambda: BODY),
}
BODY_CASES = ["endless-chunked", "500MB-content-length"]
HEAD_CASES = ["100k-headers", "10MB-header-line"]
ENCODING_CASES = ["gzip-1GB-bomb", "deflate-1GB-bomb", "br"]


def play(conn: Conn, request: Request) -> None:
    CASES[request.json()["taskId"]](conn)


@pytest.fixture(scope="module")
def server() -> Iterator[Hostile]:
    gzip_bomb(), zlib_bomb()  # built once, before any timing
    with Hostile(serve_each(play)) as hostile:
        yield hostile


def check_refused(api: Connect, server: Hostile, case: str, expected: type[SpeedPixException]) -> None:
    client = api(server)
    outcome = measure(lambda: client.get(case))
    assert isinstance(outcome.error, expected), repr(outcome.error)
    assert outcome.error.task_id == case  # once a task exists, every error names it
    assert outcome.seconds < 10, outcome  # refused as it arrives, not read to the end
    assert outcome.peak_mib < 100, outcome


@pytest.mark.parametrize("case", BODY_CASES)
def test_an_oversized_reply_body_is_refused_in_bounded_memory(api: Connect, server: Hostile, case: str) -> None:
    check_refused(api, server, case, MalformedResponseError)


@pytest.mark.parametrize("case", HEAD_CASES)
def test_an_oversized_reply_head_is_refused_in_bounded_memory(api: Connect, server: Hostile, case: str) -> None:
    # httpcore (h11) and aiohttp both stop reading a head past their limits: no
    # response exists, so the error is the connection's.
    check_refused(api, server, case, APIConnectionError)


@pytest.mark.parametrize("case", ENCODING_CASES)
def test_a_content_encoding_not_asked_for_is_refused_not_inflated(api: Connect, server: Hostile, case: str) -> None:
    check_refused(api, server, case, MalformedResponseError)
    request = server.requests[-1]
    assert request.headers["accept-encoding"] == "identity"


CHILD = """
import asyncio, json, resource, sys
import speedpix, speedpix._wire.aio

def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

endpoint, cases = sys.argv[1], sys.argv[2:]
client = speedpix.Client("k", "s", endpoint=endpoint, max_retries=0)
asyncio.run(asyncio.sleep(0))
before = peak_kib()
errors = []
for case in cases:
    for kind in ("sync", "async"):
        try:
            if kind == "sync":
                client.predictions.get(case)
            else:
                asyncio.run(client.predictions.async_get(case))
            errors.append(None)
        except Exception as error:
            errors.append(type(error).__name__)
print(json.dumps({"growth_mib": (peak_kib() - before) / 1024, "errors": errors}))
"""


def test_every_hostile_reply_together_stays_within_100MB_of_rss(server: Hostile) -> None:
    # A fresh interpreter: its peak RSS is the operating system's view, C buffers included.
    cases = list(CASES)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, server.url, *cases], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(child.stdout)
    assert None not in result["errors"], result
    assert result["growth_mib"] < 100, result
