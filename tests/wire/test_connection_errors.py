"""Connection failures say whether the request was sent, and only safe ones are retried.

A server that reads the submission and hangs up without a reply may have created the
task: ``APIConnectionError(request_sent=True)``, never resubmitted. A port where nothing
listens proves nothing was sent: ``request_sent=False``, and every call is retried
``max_retries`` times. aiohttp maps a hang-up after the request to the same base class
as a connect failure; these tests hold the async path to the sync path's answers.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable

import pytest

from speedpix.errors import APIConnectionError, APITimeoutError

from ._hostile import Conn, Hostile, Request, progress, serve_each
from .conftest import Connect


def hang_up(conn: Conn, request: Request) -> None:
    conn.hang_up()


def test_a_hang_up_after_the_submission_is_request_sent_and_never_repeated(
    api: Connect, hostile: Callable[..., Hostile]
) -> None:
    server = hostile(serve_each(hang_up))
    client = api(server, max_retries=2)
    with pytest.raises(APIConnectionError) as caught:
        client.run("wf", {"prompt": "x"})
    error = caught.value
    assert not isinstance(error, APITimeoutError), repr(error)
    assert error.request_sent is True
    assert "may have been created" in str(error)
    assert server.paths() == ["/scc/comfy_prompt"]


def test_a_hang_up_after_a_read_is_request_sent_and_retried(api: Connect, hostile: Callable[..., Hostile]) -> None:
    # The first two attempts are dropped, the third answered: a read is safe to repeat.
    def answer(conn: Conn, request: Request) -> None:
        if len(server.requests) <= 2:
            conn.hang_up()
        else:
            conn.send(progress("t", "running", 0.75))

    server = hostile(serve_each(answer))
    assert api(server, max_retries=2).get("t").progress == 0.75
    assert server.paths() == ["/scc/comfy_get_progress"] * 3


def test_a_hang_up_after_a_read_with_no_retry_left_is_request_sent(
    api: Connect, hostile: Callable[..., Hostile]
) -> None:
    server = hostile(serve_each(hang_up))
    with pytest.raises(APIConnectionError) as caught:
        api(server, max_retries=0).get("t")
    assert not isinstance(caught.value, APITimeoutError), repr(caught.value)
    assert caught.value.request_sent is True
    assert caught.value.task_id == "t"
    assert server.paths() == ["/scc/comfy_get_progress"]


@pytest.fixture
def closed_port() -> int:
    """A loopback port where nothing listens (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def attempts(caplog: pytest.LogCaptureFixture, path: str) -> list[int]:
    return [
        int(match.group(1))
        for record in caplog.records
        if path in record.getMessage() and (match := re.search(r"attempt (\d+)", record.getMessage()))
    ]


@pytest.mark.parametrize("call", ["run", "get"])
def test_a_refused_connection_is_not_sent_and_is_retried(
    api: Connect, closed_port: int, caplog: pytest.LogCaptureFixture, call: str
) -> None:
    client = api(f"http://127.0.0.1:{closed_port}", max_retries=2)
    caplog.set_level(logging.INFO, logger="speedpix")
    with pytest.raises(APIConnectionError) as caught:
        client.run("wf", {"prompt": "x"}) if call == "run" else client.get("t")
    assert caught.value.request_sent is False
    assert "may have been created" not in str(caught.value)
    # Even the submission: a connection never made cannot have created a task.
    path = "/scc/comfy_prompt" if call == "run" else "/scc/comfy_get_progress"
    assert attempts(caplog, path) == [1, 2, 3]
