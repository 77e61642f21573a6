"""Fixtures of the object-storage tests: an emulator whose workflow returns any output
node, a scriptable storage host, and a saved output to copy (``s3/`` adds a real
S3-compatible server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import speedpix
from speedpix.testing import Emulator

from ..hostile._server import HostileServer

FAST: dict[str, Any] = {"retry_delay": 0.01, "max_retries": 1}


def _echo_node(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"images": inputs["node"]}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.register("echo-node", _echo_node, duration=0.0)
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[speedpix.Client]:
    with emu.client(**FAST) as c:
        yield c


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as s:
        yield s


def output_node(client: speedpix.Client, url: str, **fields: Any) -> speedpix.FileNode:
    """What ``client.run()`` returns for a result node ``{"url": url, **fields}``."""
    node = client.run("echo-node", {"node": {"url": url, **fields}}, polling_interval=0.005)["images"]
    assert isinstance(node, speedpix.FileNode)
    return node


MODES = ["sync", "async"]
MB = 1024 * 1024


def save(mode: str, output: Any, target: str, **options: Any) -> Any:
    if mode == "sync":
        return output.save(target, **options)
    return asyncio.run(output.async_save(target, **options))


@pytest.fixture
def image(client: speedpix.Client) -> speedpix.FileNode:
    node = client.run("demo-txt2img", {"prompt": "a red fox"}, polling_interval=0.005)["images"]
    assert isinstance(node, speedpix.FileNode)
    return node
