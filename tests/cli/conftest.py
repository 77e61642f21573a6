"""Helpers of the CLI tests: the ``speedpix`` command runs as a real subprocess against an
emulator (in this process, served over loopback, so the tests can read its counters)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from speedpix.testing import Emulator

ROOT = Path(__file__).resolve().parents[2]


def base_env(**extra: str) -> dict[str, str]:
    """The current environment without any SPEEDPIX_* variable, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SPEEDPIX_")}
    env.setdefault("PYTHONPATH", str(ROOT))
    env.update(extra)
    return env


def emulator_env(emu: Emulator, **extra: str) -> dict[str, str]:
    return base_env(
        SPEEDPIX_ENDPOINT=emu.endpoint,
        SPEEDPIX_APP_KEY=emu.app_key,
        SPEEDPIX_APP_SECRET=emu.app_secret,
        **extra,
    )


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "speedpix", *args]


def _default_sigint() -> None:
    # A shell that starts the test run in the background makes its children ignore
    # SIGINT, and Python then keeps ignoring it; the CLI's Ctrl-C handling is what the
    # tests interrupt, so each child gets the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.Popen[str]:
    """The ``speedpix`` command running in the background, its output piped, ready for signals."""
    return subprocess.Popen(
        command(*args),
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def run_cli(
    *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 30, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, checking its signature and IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def module_emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emu(module_emulator: Emulator) -> Emulator:
    """The module's emulator, reset (tasks, counters, faults) for this test."""
    module_emulator.reset()
    return module_emulator


@pytest.fixture
def cli(emu: Emulator, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli("run", "demo-txt2img", ...)``: the command against ``emu``, in ``tmp_path``."""

    def call(*args: str, timeout: float = 30, **extra_env: Any) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=emulator_env(emu, **extra_env), cwd=tmp_path, timeout=timeout)

    return call
