"""``timeout=`` is a deadline for the whole call, however slowly a reply trickles in.

The server sends its reply one byte every 0.5 s: in the head, or in the body after a
complete head. Each byte would satisfy a per-read timeout; only a deadline for the call
stops it. ``run(timeout=3)`` whose submission trickles raises ``APITimeoutError`` (no
task id came back, so no prediction exists to resume, and the message says a task may
exist); a wait whose polls trickle raises ``PredictionTimeoutError`` (the task goes on).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from speedpix.errors import APITimeoutError, PredictionTimeoutError, SpeedPixException

from ._hostile import Conn, Hostile, Request, progress, serve_each, submitted
from .conftest import Connect

TIMEOUT = 3.0
BYTE_EVERY = 0.5


def trickled(reply: bytes, where: str) -> Callable[[Conn], None]:
    def send(conn: Conn) -> None:
        if where == "body":
            head, _, body = reply.partition(b"\r\n\r\n")
            conn.send(head + b"\r\n\r\n")
            conn.trickle(body, BYTE_EVERY)
        else:
            conn.trickle(reply, BYTE_EVERY)

    return send


def timed(call: Callable[[], object]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(SpeedPixException) as caught:
        call()
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize("where", ["head", "body"])
def test_run_whose_submission_trickles_ends_at_its_timeout(
    api: Connect, hostile: Callable[..., Hostile], where: str
) -> None:
    def answer(conn: Conn, request: Request) -> None:
        trickled(submitted("never"), where)(conn)

    server = hostile(serve_each(answer))
    client = api(server, max_retries=2)
    error, seconds = timed(lambda: client.run("wf", {"prompt": "x"}, timeout=TIMEOUT))
    assert type(error) is APITimeoutError, repr(error)
    assert error.request_sent
    assert "may have been created" in str(error)
    assert seconds < TIMEOUT + 2, seconds
    assert server.paths() == ["/scc/comfy_prompt"]  # a submission in doubt is never repeated


@pytest.mark.parametrize("where", ["head", "body"])
def test_a_wait_whose_polls_trickle_ends_at_its_timeout(
    api: Connect, hostile: Callable[..., Hostile], where: str
) -> None:
    # The first progress call (predictions.get) is answered at once; every later poll trickles.
    def answer(conn: Conn, request: Request) -> None:
        if len(server.requests) == 1:
            conn.send(progress("t"))
        else:
            trickled(progress("t"), where)(conn)

    server = hostile(serve_each(answer))
    client = api(server, max_retries=2)
    prediction = client.get("t")
    error, seconds = timed(lambda: client.wait(prediction, timeout=TIMEOUT, polling_interval=0.1))
    assert isinstance(error, PredictionTimeoutError), repr(error)
    assert error.task_id == "t" and error.prediction is prediction
    assert seconds < TIMEOUT + 2, seconds
    assert len(server.requests) >= 2  # a poll was under way, trickling, when the time ran out


def test_run_whose_polls_trickle_ends_at_its_timeout(api: Connect, hostile: Callable[..., Hostile]) -> None:
    def answer(conn: Conn, request: Request) -> None:
        if request.path == "/scc/comfy_prompt":
            conn.send(submitted("t"))
        else:
            trickled(progress("t"), "body")(conn)

    server = hostile(serve_each(answer))
    client = api(server, max_retries=2)
    error, seconds = timed(lambda: client.run("wf", {"prompt": "x"}, timeout=TIMEOUT, polling_interval=0.1))
    assert isinstance(error, PredictionTimeoutError), repr(error)
    assert error.task_id == "t"
    assert seconds < TIMEOUT + 2, seconds
    assert server.paths().count("/scc/comfy_prompt") == 1
    assert len(server.requests) >= 2
