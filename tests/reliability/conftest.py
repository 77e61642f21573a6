"""Shared helpers of the reliability tests: fast clients, input files, sync/async driving."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Fast but real: every retry still waits (10 ms, doubling, with jitter).
FAST: dict[str, Any] = {"retry_delay": 0.01, "max_retries": 2}


def drive(mode: str, sync_fn: Callable[[], T], async_fn: Callable[[], Awaitable[T]]) -> T:
    """Run the sync or the async twin of the same operation."""
    if mode == "sync":
        return sync_fn()
    return asyncio.run(async_fn())  # type: ignore[arg-type]


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    """A 1.1 MB file that looks like a PNG: more than one upload chunk, so a retried
    upload must start again from the first byte to arrive intact."""
    path = tmp_path / "input.png"
    body = bytes(range(256)) * (1100 * 4)
    path.write_bytes(PNG_SIGNATURE + body)
    return path
