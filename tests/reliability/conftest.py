"""Shared helpers of the reliability tests: fast clients, input files, sync/async driving."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable, Iterator
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


def _recurse(levels: int) -> int:
    return _recurse(levels - 1) + 1 if levels else 0


@contextlib.contextmanager
def collections_short_of_stack(frames: int) -> Iterator[list[str]]:
    """Garbage collections every few new containers, each calling a function ``frames``
    deep as a weakref callback might; yields the list of those that hit the recursion limit."""
    short: list[str] = []

    def collecting(phase: str, info: dict[str, int]) -> None:
        try:
            _recurse(frames)
        except RecursionError:
            short.append(phase)

    threshold = gc.get_threshold()
    gc.set_threshold(10)
    gc.callbacks.append(collecting)
    try:
        yield short
    finally:
        gc.callbacks.remove(collecting)
        gc.set_threshold(*threshold)


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    """A 1.1 MB file that looks like a PNG: more than one upload chunk, so a retried
    upload must start again from the first byte to arrive intact."""
    path = tmp_path / "input.png"
    body = bytes(range(256)) * (1100 * 4)
    path.write_bytes(PNG_SIGNATURE + body)
    return path
