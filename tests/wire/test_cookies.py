"""Cookies: the gateway API does not use them, so a client keeps none.

A cookie a server set would otherwise ride along with every later request, outside
the signature.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import speedpix
from speedpix import ConfigurationError

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


def test_httpx_args_cannot_set_cookies() -> None:
    with pytest.raises(ConfigurationError, match="cookies"):
        speedpix.Client("key", "secret", endpoint="http://127.0.0.1:9", httpx_args={"cookies": {"session": "x"}})


def test_the_low_level_clients_keep_no_cookies(hostile: Callable[..., Hostile]) -> None:
    server = hostile(serve_each(lambda conn, request: conn.send(reply(envelope({"taskId": "t1"})))))
    client = speedpix.Client("key", "secret", endpoint=server.url)
    sync_http = client.api.get_httpx_client()
    with pytest.raises(TypeError, match="no cookies"):
        sync_http.cookies = {"session": "x"}
    sync_http.cookies.set("session", "x")  # dropped: the jar keeps nothing
    assert len(sync_http.cookies) == 0

    async def async_side() -> int:
        async_http = client.api.get_async_httpx_client()
        with pytest.raises(TypeError, match="no cookies"):
            async_http.cookies = {"session": "x"}
        async_http.cookies["session"] = "x"
        count = len(async_http.cookies)
        await client.aclose()
        return count

    assert asyncio.run(async_side()) == 0
    client.predictions.get("t1")
    client.close()
    assert server.requests and all("cookie" not in request.headers for request in server.requests)
