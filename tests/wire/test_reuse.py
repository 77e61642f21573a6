"""Kept-alive connections are reused only where that is safe.

A connection the server closed is not reused for a submission, and an informational
reply (1xx) is not taken as the end of the reply that follows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from ._hostile import Conn, Hostile, progress, submitted
from .conftest import Connect

SECOND = progress("t", "running", 0.5, "second real reply")


# Sync only: the async twin relied on a subclass of aiohttp's connection protocol that
# read an idle socket before reuse, dropped with the other private reach-ins (issue 19,
# item 5); in an event loop that runs, aiohttp itself sees the close.
@pytest.mark.parametrize("api", ["sync"], indirect=True)
def test_a_kept_alive_connection_the_server_closed_is_not_reused_for_a_submission(
    api: Connect, hostile: Callable[..., Hostile]
) -> None:
    # Each connection gets one reply, then the server closes it. Reused, the closed
    # connection would fail the submission after writing it: "a task may exist".
    def handler(conn: Conn) -> None:
        request = conn.read_request()
        if request is not None:
            conn.send(progress("t") if request.path.endswith("progress") else submitted("t2"))
            conn.hang_up()

    server = hostile(handler)
    client = api(server, max_retries=0)
    client.get("t")
    time.sleep(0.2)  # the server's close has arrived
    prediction = client.run("wf", {"prompt": "x"}, wait=False)
    assert prediction.id == "t2"
    assert server.paths() == ["/scc/comfy_get_progress", "/scc/comfy_prompt"]
    assert server.accepted == 2


def test_an_informational_reply_before_the_real_one_is_not_taken_as_its_end(
    api: Connect, hostile: Callable[..., Hostile]
) -> None:
    # A 103 Early Hints, then (in a later write) the reply: the bytes after a 1xx are
    # the reply the client asked for, not bytes nobody asked for.
    def handler(conn: Conn) -> None:
        while conn.read_request() is not None:
            conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            time.sleep(0.05)
            conn.send(SECOND)

    server = hostile(handler)
    client = api(server)
    assert [client.get("t").progress for _ in range(2)] == [0.5, 0.5]
    assert server.accepted == 1  # and the connection was kept alive
