"""Helpers of the notebook tests: outputs of chosen bytes, served by the emulator."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from speedpix import Client
from speedpix.testing import Emulator

_names = itertools.count()


@pytest.fixture
def emu(speedpix_emulator_session: Emulator) -> Emulator:
    return speedpix_emulator_session


@pytest.fixture
def client(emu: Emulator) -> Iterator[Client]:
    with emu.client(retry_delay=0.01) as made:
        yield made


def serve(emu: Emulator, client: Client, data: bytes, filename: str, *, node: dict[str, Any] | None = None) -> Any:
    """Run a workflow whose output is ``data`` stored as ``filename``: the ``FileOutput``,
    or, given ``node`` fields, a ``FileNode`` with them."""
    name = f"serve-{next(_names)}"

    def workflow(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        url = ctx.store_file(data, content_type="application/octet-stream", filename=filename)
        return {"out": {"url": url, **node} if node is not None else url}

    emu.register(name, workflow, duration=0.0)
    return client.run(name, {})["out"]


def gets(emu: Emulator, url: str) -> list[Any]:
    """The GETs the emulator received for an output URL."""
    path = urlsplit(url).path
    return [r for r in emu.requests if r.method == "GET" and r.path == path]


def image_bytes(fmt: str, size: tuple[int, int] = (24, 16), mode: str = "RGB") -> bytes:
    from PIL import Image

    image = Image.new(mode, size)
    image.putdata([((x * 10) % 256, (y * 15) % 256, 128)[: len(mode)] for y in range(size[1]) for x in range(size[0])])
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()
