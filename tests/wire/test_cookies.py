"""Cookies: the gateway API does not use them, so a client keeps none.

A cookie a server set would otherwise ride along with every later request, outside
the signature.
"""

from __future__ import annotations

from collections.abc import Callable

from ._hostile import Conn, Hostile, Request, envelope, reply, serve_each
from .conftest import Connect


def test_a_cookie_the_gateway_sets_is_never_sent_back(api: Connect, hostile: Callable[..., Hostile]) -> None:
    def answer(conn: Conn, request: Request) -> None:
        data = {"taskId": "t1", "status": "running", "progress": 0.5, "etaRelative": 30}
        conn.send(reply(envelope(data), headers={"Set-Cookie": "session=abc; Path=/"}))

    server = hostile(serve_each(answer))
    client = api(server)
    client.get("t1")
    client.get("t1")
    assert len(server.requests) == 2  # two gets, one progress call each (no result: still running)
    assert all("cookie" not in request.headers for request in server.requests)
