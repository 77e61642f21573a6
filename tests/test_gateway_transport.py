"""The async gateway transport against scripted HTTP servers on loopback (plain and TLS).

Each test runs a small asyncio server in the same event loop as the transport; the
server's script decides, per request, what bytes go back (or whether to stall, close,
or speak out of turn), and it counts the connections it accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

import speedpix
from speedpix import APIConnectionError
from speedpix._gateway_transport import AsyncGatewayTransport
from speedpix.testing import Emulator

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

Script = Callable[[int, bytes, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class ScriptedServer:
    """Answers request N (counted over all connections) with ``script(N, request, writer)``."""

    script: Script
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def start(self, tls: ssl.SSLContext | None = None) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                await self.script(len(self.requests), request, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def served(
    script: Script, tls: ssl.SSLContext | None = None, **options: Any
) -> AsyncIterator[tuple[ScriptedServer, str, AsyncGatewayTransport]]:
    """A scripted server, its URL, and a transport (``options``) to talk to it; both closed after."""
    server = ScriptedServer(script)
    url = await server.start(tls)
    transport = AsyncGatewayTransport(**options)
    try:
        yield server, url, transport
    finally:
        await transport.aclose()
        await server.stop()


def reply(data: bytes = OK, *, close: bool = False) -> Script:
    async def script(n: int, request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        if close:
            writer.close()

    return script


async def post(transport: AsyncGatewayTransport, url: str, **timeouts: float) -> httpx.Response:
    request = httpx.Request("POST", url + "/scc/x", content=b'{"a":1}', extensions={"timeout": timeouts})
    response = await transport.handle_async_request(request)
    await response.aread()
    return response


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())  # type: ignore[arg-type]


def test_keep_alive_connections_are_reused() -> None:
    async def main() -> None:
        async with served(reply()) as (server, url, transport):
            for _ in range(5):
                response = await post(transport, url)
                assert response.status_code == 200 and response.json() == {}
            assert server.connections == 1
            assert server.requests[0].startswith(b"POST /scc/x HTTP/1.1\r\n")
            assert server.requests[0].endswith(b'\r\n\r\n{"a":1}')

    run(main)


def test_concurrent_requests_open_at_most_max_connections() -> None:
    async def slow(n: int, request: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.02)
        writer.write(OK)

    async def main() -> None:
        async with served(slow, max_connections=3) as (server, url, transport):
            responses = await asyncio.gather(*(post(transport, url) for _ in range(12)))
            assert [r.status_code for r in responses] == [200] * 12
            assert server.connections == 3

    run(main)


@pytest.mark.parametrize(
    "answer",
    [
        # The server says it will close: the next request needs a new connection.
        OK.replace(b"Content-Length: 2", b"Connection: close\r\nContent-Length: 2"),
        # HTTP/1.0 without keep-alive.
        OK.replace(b"HTTP/1.1", b"HTTP/1.0"),
        # No length: the body ends when the server closes.
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}",
    ],
    ids=["connection-close", "http-1.0", "read-until-close"],
)
def test_connections_the_server_ends_are_not_reused(answer: bytes) -> None:
    async def main() -> None:
        async with served(reply(answer, close=True)) as (server, url, transport):
            for _ in range(3):
                response = await post(transport, url)
                assert response.json() == {}
            assert server.connections == 3

    run(main)


def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    """A keep-alive connection the server closes while idle is noticed at once, not on the
    next request (which would then fail after being sent)."""

    async def main() -> None:
        async with served(reply()) as (server, url, transport):
            assert (await post(transport, url)).status_code == 200
            # Close every server-side connection, as a keep-alive timeout would.
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task() and "_serve" in repr(task.get_coro()):
                    task.cancel()
            await asyncio.sleep(0.05)
            assert (await post(transport, url)).status_code == 200
            assert server.connections == 2

    run(main)


def test_a_server_speaking_out_of_turn_loses_the_connection() -> None:
    async def chatty(n: int, request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(OK)
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(OK)  # an answer nobody asked for, while the connection is idle

    async def main() -> None:
        async with served(chatty) as (server, url, transport):
            assert (await post(transport, url)).status_code == 200
            await asyncio.sleep(0.05)
            response = await post(transport, url)
            assert response.status_code == 200 and response.content == b"{}"
            assert server.connections == 2

    run(main)


def test_idle_connections_expire() -> None:
    async def main() -> None:
        async with served(reply(), keepalive_expiry=0.05) as (server, url, transport):
            await post(transport, url)
            await asyncio.sleep(0.1)
            await post(transport, url)
            assert server.connections == 2

    run(main)


def test_chunked_response_and_informational_response() -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Ca-Request-Id: r-1\r\n\r\n"
        b'4\r\n{"a"\r\n4\r\n:42}\r\n0\r\n\r\n'
    )

    async def main() -> None:
        async with served(reply(answer)) as (server, url, transport):
            for _ in range(2):
                response = await post(transport, url)
                assert response.json() == {"a": 42}
                assert response.headers["x-ca-request-id"] == "r-1"
                assert response.http_version == "HTTP/1.1"
            assert server.connections == 1

    run(main)


def test_failures_are_the_httpx_exceptions_the_sdk_maps() -> None:
    async def stall(n: int, request: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def hang_up(n: int, request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def garbage(n: int, request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SMTP ready\r\n\r\n")

    async def main() -> None:
        transport = AsyncGatewayTransport()
        stalled = ScriptedServer(stall)
        with pytest.raises(httpx.ReadTimeout):
            await post(transport, await stalled.start(), read=0.05)
        closing = ScriptedServer(hang_up)
        with pytest.raises(httpx.RemoteProtocolError, match="closed the connection before sending a response"):
            await post(transport, await closing.start())
        confused = ScriptedServer(garbage)
        with pytest.raises(httpx.RemoteProtocolError, match="status line"):
            await post(transport, await confused.start())
        # Nothing listens on a port just released.
        free = ScriptedServer(reply())
        url = await free.start()
        await free.stop()
        with pytest.raises(httpx.ConnectError):
            await post(transport, url)
        await transport.aclose()
        for server in (stalled, closing, confused):
            await server.stop()

    run(main)


def test_a_full_pool_times_out_and_a_cancelled_request_frees_its_slot() -> None:
    async def stall_first(n: int, request: bytes, writer: asyncio.StreamWriter) -> None:
        if n == 1:
            await asyncio.sleep(5)
        writer.write(OK)

    async def main() -> None:
        async with served(stall_first, max_connections=1) as (_, url, transport):
            stuck = asyncio.ensure_future(post(transport, url))
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await post(transport, url, pool=0.05)
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            assert (await post(transport, url, pool=1.0)).status_code == 200

    run(main)


def test_header_injection_is_refused_before_sending() -> None:
    async def main() -> None:
        async with served(reply()) as (server, url, transport):
            request = httpx.Request("POST", url + "/scc/x", content=b"{}", headers={"X-Evil": "a\r\nX-Injected: 1"})
            with pytest.raises(httpx.LocalProtocolError):
                await transport.handle_async_request(request)
            assert server.requests == []

    run(main)


# ------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


def _server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


def test_tls_with_a_trusted_certificate(certificate_authority: trustme.CA) -> None:
    async def client_tls() -> ssl.SSLContext:
        context = ssl.create_default_context()
        certificate_authority.configure_trust(context)
        return context

    async def main() -> None:
        async with served(reply(), tls=_server_tls(certificate_authority), ssl_context=client_tls) as (
            server,
            url,
            transport,
        ):
            for _ in range(3):
                assert (await post(transport, url)).json() == {}
            assert server.connections == 1
            assert transport.ssl_context is not None and transport.ssl_context.verify_mode == ssl.CERT_REQUIRED

    run(main)


def test_tls_refuses_a_certificate_it_does_not_trust(certificate_authority: trustme.CA) -> None:
    async def main() -> None:
        # The transport trusts the system's CAs, which do not know ours.
        async with served(reply(), tls=_server_tls(certificate_authority)) as (server, url, transport):
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await post(transport, url)
            assert server.requests == []

    run(main)


def test_the_client_verifies_tls_with_its_verify_setting(certificate_authority: trustme.CA, tmp_path: Path) -> None:
    """``Client(verify=path)`` reaches the async gateway transport: a CA bundle works."""
    bundle = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(bundle))

    async def main() -> None:
        envelope = b'{"status":10,"apiInvokeId":"i","data":{"taskId":"t","status":"running","progress":0.5}}'
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(envelope)
        server = ScriptedServer(reply(answer + envelope))
        url = await server.start(tls=_server_tls(certificate_authority))
        async with speedpix.Client("key", "secret", endpoint=url, verify=str(bundle)) as client:
            prediction = await client.predictions.async_get("t")
            assert prediction.status == "running" and prediction.progress == 0.5
        await server.stop()

    run(main)


# ------------------------------------------------------------ when httpx's own client is kept


def test_async_calls_honour_a_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a proxy configured, async calls go through httpx (which applies it), as sync
    calls do: here a proxy that is not listening, so calls fail although the emulator is up."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with Emulator() as emu:
        monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")  # the discard port: nothing listens
        proxied = emu.client(max_retries=0)
        with pytest.raises(APIConnectionError):
            proxied.run("demo-txt2img", {"prompt": "x"})
        with pytest.raises(APIConnectionError):
            asyncio.run(proxied.async_run("demo-txt2img", {"prompt": "x"}))
        assert emu.stats.tasks_created == 0
        monkeypatch.delenv("ALL_PROXY")
        direct = emu.client()
        output = asyncio.run(direct.async_run("demo-txt2img", {"prompt": "x"}))
        assert str(output["images"]["url"]).startswith(emu.endpoint)
        assert emu.stats.tasks_created == 1


def test_async_calls_run_httpx_event_hooks_given_in_httpx_args() -> None:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    with Emulator() as emu:
        client = emu.client(httpx_args={"event_hooks": {"request": [hook]}})
        asyncio.run(client.async_run("demo-txt2img", {"prompt": "x"}))
    assert seen[0] == "/scc/comfy_prompt"
    assert "/scc/comfy_get_result" in seen


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_headers_given_in_httpx_args_reach_gateway_requests(mode: str) -> None:
    with Emulator() as emu:
        client = emu.client(httpx_args={"headers": {"X-Trace-Id": "trace-1"}})
        if mode == "sync":
            client.run("demo-txt2img", {"prompt": "x"})
        else:
            asyncio.run(client.async_run("demo-txt2img", {"prompt": "x"}))
        gateway = [r for r in emu.requests if r.path.startswith("/scc/")]
    assert gateway and all(r.headers.get("x-trace-id") == "trace-1" for r in gateway)
    assert all(r.status == 200 for r in gateway)  # still signed correctly
