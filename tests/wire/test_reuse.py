"""A reply that the client did not ask for is never taken as the answer to a later request.

The server answers the first ``comfy_get_progress`` with the real reply and a forged
second reply behind it, on one kept-alive connection. The next ``predictions.get`` on
that client must get the server's real answer to it (on this connection or a new one) or
a typed error, never the forged one: a connection with unread bytes after a response is
never reused.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from speedpix.errors import APIConnectionError

from ._hostile import Conn, Hostile, progress, submitted
from .conftest import Connect

FIRST = progress("t", "running", 0.25, "first real reply")
FORGED = progress("t", "succeeded", 0.99, "FORGED")
SECOND = progress("t", "running", 0.5, "second real reply")


def forging(*, delay: float) -> Callable[[Conn], None]:
    """The first request of the server gets FIRST + FORGED (in one write when ``delay``
    is 0, else FORGED ``delay`` seconds later, on the idle connection); every later one
    gets SECOND."""
    first = [True]

    def handler(conn: Conn) -> None:
        while conn.read_request() is not None:
            if first[0]:
                first[0] = False
                if delay == 0:
                    conn.send(FIRST + FORGED)
                else:
                    conn.send(FIRST)
                    time.sleep(delay)
                    conn.send(FORGED)
            else:
                conn.send(SECOND)

    return handler


def check_second_is_real(
    api: Connect, server: Hostile, *, max_retries: int, pause: float, loop_running: bool = True
) -> None:
    client = api(server, max_retries=max_retries)
    first = client.get("t")
    assert (first.status, first.progress) == ("running", 0.25)
    if loop_running:
        client.pause(pause)
    else:
        time.sleep(pause)  # the async twin's loop is not running: the bytes wait unread
    try:
        second = client.get("t")
    except APIConnectionError as error:  # refused as unasked-for, and not retried
        assert max_retries == 0, error
        assert error.task_id == "t"
    else:
        assert (second.status, second.progress) == ("running", 0.5), "the forged reply was taken"
        assert second.output is None
    # The forged "succeeded" was never believed: no result was asked for.
    assert set(server.paths()) == {"/scc/comfy_get_progress"}


@pytest.mark.parametrize("max_retries", [0, 2])
def test_a_reply_appended_to_the_real_one_in_the_same_write_is_never_taken(
    api: Connect, hostile: Callable[..., Hostile], max_retries: int
) -> None:
    server = hostile(forging(delay=0))
    check_second_is_real(api, server, max_retries=max_retries, pause=0.0)
    if max_retries:
        assert len(server.requests) >= 2  # the second call reached the server: it answered it


@pytest.mark.parametrize("loop_running", [True, False], ids=["loop-running", "loop-blocked"])
def test_a_reply_sent_while_the_connection_idles_is_never_taken(
    api: Connect, hostile: Callable[..., Hostile], loop_running: bool
) -> None:
    # The same forged reply, arriving 0.1 s after the real one: between the two calls,
    # read by the event loop at once (loop-running) or waiting in the socket until the
    # next call starts (loop-blocked: e.g. the loop was busy with blocking code).
    server = hostile(forging(delay=0.1))
    check_second_is_real(api, server, max_retries=2, pause=0.4, loop_running=loop_running)


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
