"""Proxies: the environment's (``HTTP_PROXY``, ``NO_PROXY``...) and the caller's
(``httpx_args``), honoured as httpx honours them, sync and async, through one transport
class whatever the route.

The proxy is a hostile server that answers every request itself; the gateway's host
(``gateway.invalid``) cannot be reached but through it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from speedpix._wire.proxies import TransportOptions, client_args, environment_proxies
from speedpix.errors import APIConnectionError

from ._hostile import Conn, Hostile, Request, progress, serve_each
from .conftest import Connect

GATEWAY = "http://gateway.invalid"
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens there


def answering(conn: Conn, request: Request) -> None:
    conn.send(progress("t"))


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_the_environment_proxy_carries_the_calls(
    api: Connect, hostile: Callable[..., Hostile], no_proxies: pytest.MonkeyPatch
) -> None:
    proxy = hostile(serve_each(answering))
    no_proxies.setenv("HTTP_PROXY", proxy.url)
    client = api(GATEWAY)
    assert client.get("t").progress == 0.5
    assert proxy.paths() == [f"{GATEWAY}/scc/comfy_get_progress"]  # absolute form: a proxy's request


def test_a_no_proxy_host_is_reached_directly(
    api: Connect, hostile: Callable[..., Hostile], no_proxies: pytest.MonkeyPatch
) -> None:
    server = hostile(serve_each(answering))
    no_proxies.setenv("HTTP_PROXY", DEAD_PROXY)
    no_proxies.setenv("NO_PROXY", "localhost,127.0.0.1")
    client = api(server)
    assert client.get("t").progress == 0.5
    assert server.paths() == ["/scc/comfy_get_progress"]


def test_the_callers_proxy_carries_the_calls(
    api: Connect, hostile: Callable[..., Hostile], no_proxies: pytest.MonkeyPatch
) -> None:
    proxy = hostile(serve_each(answering))
    client = api(GATEWAY, httpx_args={"proxy": proxy.url})
    assert client.get("t").progress == 0.5
    assert proxy.paths() == [f"{GATEWAY}/scc/comfy_get_progress"]


def test_trust_env_false_ignores_the_environment_proxy(
    api: Connect, hostile: Callable[..., Hostile], no_proxies: pytest.MonkeyPatch
) -> None:
    server = hostile(serve_each(answering))
    no_proxies.setenv("HTTP_PROXY", DEAD_PROXY)
    client = api(server, httpx_args={"trust_env": False})
    assert client.get("t").progress == 0.5
    assert server.paths() == ["/scc/comfy_get_progress"]


def test_environment_proxies_are_read_as_httpx_reads_them(no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv("HTTP_PROXY", "proxy.example:3128")
    no_proxies.setenv("ALL_PROXY", "socks5://proxy.example:1080")
    no_proxies.setenv("NO_PROXY", "localhost, 10.0.0.1,::1,.internal.example,other.example,http://x.example")
    assert environment_proxies() == {
        "http://": "http://proxy.example:3128",
        "all://": "socks5://proxy.example:1080",
        "all://localhost": None,
        "all://10.0.0.1": None,
        "all://[::1]": None,
        "all://*.internal.example": None,
        "all://*other.example": None,
        "http://x.example": None,
    }
    no_proxies.setenv("NO_PROXY", "internal.example,*")
    assert environment_proxies() == {}


class Made:
    def __init__(self, options: TransportOptions, proxy: httpx.Proxy | None) -> None:
        self.options, self.proxy = options, proxy


@pytest.mark.parametrize(
    ("env", "httpx_args", "routes"),
    [
        ({}, {}, {}),
        ({"NO_PROXY": "127.0.0.1"}, {}, {"all://127.0.0.1": None}),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "h.example"},
            {},
            {"https://": "http://p:1", "all://*h.example": None},
        ),
        ({"HTTPS_PROXY": "http://p:1"}, {"proxy": "http://q:2"}, {"all://": "http://q:2"}),
        ({"HTTPS_PROXY": "http://p:1"}, {"trust_env": False}, {}),
    ],
    ids=["direct", "no-proxy", "env-proxy", "caller-proxy", "trust-env-off"],
)
def test_every_route_is_the_same_transport_class(
    no_proxies: pytest.MonkeyPatch, env: dict[str, str], httpx_args: dict[str, Any], routes: dict[str, str | None]
) -> None:
    for name, value in env.items():
        no_proxies.setenv(name, value)
    limits = httpx.Limits(max_connections=7)
    args = client_args({"verify": False, "limits": limits, "timeout": 3.0, **httpx_args}, Made)
    assert "verify" not in args and "limits" not in args and "proxy" not in args
    assert args["timeout"] == 3.0
    transports = [args["transport"], *(t for t in args["mounts"].values() if t is not None)]
    assert all(type(t) is Made and t.options.limits is limits for t in transports)
    assert len({id(t.options.ssl_context) for t in transports}) == 1  # one TLS context for all
    assert args["transport"].proxy is None
    made = {pattern: None if t is None else str(t.proxy.url) for pattern, t in args["mounts"].items()}
    assert made == {pattern: None if url is None else str(httpx.URL(url)) for pattern, url in routes.items()}


def test_the_callers_mounts_and_transport_are_kept(no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv("HTTP_PROXY", "http://p:1")
    own = httpx.MockTransport(lambda request: httpx.Response(200))
    args = client_args({"transport": own, "mounts": {"http://special": own}}, Made)
    assert args["transport"] is own
    assert args["mounts"] == {"http://special": own}  # no environment proxy with a caller's transport


def test_the_proxy_gets_its_credentials(
    api: Connect, hostile: Callable[..., Hostile], no_proxies: pytest.MonkeyPatch
) -> None:
    proxy = hostile(serve_each(answering))
    no_proxies.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://user:pass@"))
    client = api(GATEWAY)
    assert client.get("t").progress == 0.5
    assert proxy.requests[0].headers["proxy-authorization"] == "Basic dXNlcjpwYXNz"  # user:pass


def test_the_proxy_gets_its_credentials_with_the_tunnel_to_an_https_gateway(
    api: Connect, hostile: Callable[..., Hostile], no_proxies: pytest.MonkeyPatch
) -> None:
    def refuse(conn: Conn) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    proxy = hostile(refuse)
    no_proxies.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://user:pass@"))
    client = api("https://gateway.invalid")
    with pytest.raises(APIConnectionError):
        client.get("t")
    tunnel = proxy.requests[0]
    assert (tunnel.method, tunnel.path) == ("CONNECT", "gateway.invalid:443")
    assert tunnel.headers["proxy-authorization"] == "Basic dXNlcjpwYXNz"
