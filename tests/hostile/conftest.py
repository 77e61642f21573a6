"""Fixtures of the hostile-server tests: an emulator whose workflow returns the output
node a test gives (so a real ``run()`` hands back a FileOutput pointing at a hostile
server), hostile servers over plain TCP and TLS, and sync/async driving."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import speedpix
from speedpix.testing import Emulator

from ._server import HostileServer

MODES = ["sync", "async"]
FAST: dict[str, Any] = {"retry_delay": 0.01, "max_retries": 2}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def call(mode: str, obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """obj.name(...) in sync mode, asyncio.run(obj.async_name(...)) in async mode."""
    if mode == "sync":
        return getattr(obj, name)(*args, **kwargs)
    return asyncio.run(getattr(obj, f"async_{name}")(*args, **kwargs))


def collect(mode: str, output: Any) -> bytes:
    """The output's bytes by chunk iteration, sync or async."""
    if mode == "sync":
        return b"".join(output.iter_bytes())

    async def gather() -> bytes:
        return b"".join([chunk async for chunk in output.aiter_bytes()])

    return asyncio.run(gather())


def _echo_node(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"images": inputs["node"]}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.register("echo-node", _echo_node, duration=0.0)
        yield emulator


@pytest.fixture
def client(emu: Emulator, ca_file: str) -> Iterator[speedpix.Client]:
    with emu.client(verify=ca_file, **FAST) as c:
        yield c


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as s:
        yield s


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[HostileServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with HostileServer(tls=context) as s:
        yield s


def output_node(client: speedpix.Client, url: str, **fields: Any) -> speedpix.FileNode:
    """What ``client.run()`` returns for a result node ``{"url": url, **fields}``."""
    node = client.run("echo-node", {"node": {"url": url, **fields}}, polling_interval=0.005)["images"]
    assert isinstance(node, speedpix.FileNode)
    return node


def tree(root: Path) -> set[str]:
    """Every path under ``root``, relative to it."""
    return {str(path.relative_to(root)) for path in root.rglob("*")}
