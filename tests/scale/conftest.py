"""An emulator with the echo workflow registered (see _jobs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from speedpix.testing import Emulator

from ._jobs import ECHO, echo_workflow


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.register(ECHO, echo_workflow, duration=0.02)
        yield emulator
