"""Waiting in tests for what another thread or process notices a moment later."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``condition()`` becomes true within ``timeout`` seconds (e.g. the emulator
    noticing that a client closed its connections)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
