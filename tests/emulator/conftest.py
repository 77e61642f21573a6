"""Helpers for the emulator's tests: real sockets, signed requests, no mocks."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from speedpix._core.signing import signature_headers
from speedpix.testing import Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def sign(emu: Emulator, path: str, raw: bytes, *, secret: str | None = None, **kwargs: Any) -> dict[str, str]:
    headers, _ = signature_headers(
        app_key=kwargs.pop("app_key", emu.app_key),
        app_secret=secret or emu.app_secret,
        method="POST",
        url_path=path,
        url_query=kwargs.pop("query", ""),
        body=raw,
        **kwargs,
    )
    return headers


def post(
    http: httpx.Client,
    emu: Emulator,
    path: str,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    **sign_kwargs: Any,
) -> httpx.Response:
    """A correctly signed POST of ``body`` (JSON) to ``path``."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed = sign(emu, path, raw, **sign_kwargs)
    return http.post(emu.endpoint + path, content=raw, headers={**signed, **(headers or {})})


def submit(http: httpx.Client, emu: Emulator, workflow_id: str, inputs: Any, **body: Any) -> str:
    response = post(http, emu, "/scc/comfy_prompt", {"workflow_id": workflow_id, "inputs": inputs, **body})
    envelope = response.json()
    assert envelope["status"] == 10, envelope
    task_id: str = envelope["data"]["taskId"]
    return task_id


def progress(http: httpx.Client, emu: Emulator, task_id: str) -> dict[str, Any]:
    envelope = post(http, emu, "/scc/comfy_get_progress", {"taskId": task_id}).json()
    assert envelope["status"] == 10, envelope
    data: dict[str, Any] = envelope["data"]
    return data


def result(http: httpx.Client, emu: Emulator, task_id: str) -> dict[str, Any]:
    envelope: dict[str, Any] = post(http, emu, "/scc/comfy_get_result", {"taskId": task_id}).json()
    return envelope


def wait_done(http: httpx.Client, emu: Emulator, task_id: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = progress(http, emu, task_id)
        if data["status"] in ("succeeded", "failed"):
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.01)


def upload(http: httpx.Client, emu: Emulator, data: bytes, content_type: str, name: str) -> dict[str, Any]:
    sign_data = post(
        http,
        emu,
        "/scc/sp_create_temp_file_upload_sign",
        {"originalFilename": name, "contentType": content_type},
    ).json()["data"]
    put = http.put(sign_data["uploadUrl"], content=data, headers={"content-type": content_type})
    assert put.status_code == 200, put.text
    return dict(sign_data)


_ROOT = Path(__file__).resolve().parents[2]
_CLI = "from speedpix.cli import main; import sys; sys.exit(main(sys.argv[1:]))"


@contextlib.contextmanager
def emulator_command(*options: str, lines: int) -> Iterator[tuple[str, str]]:
    """`speedpix emulator --port 0 OPTIONS` as a process: its endpoint and its first
    ``lines`` lines of output; stopped on exit."""
    server = subprocess.Popen(
        [sys.executable, "-c", _CLI, "emulator", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=_ROOT,
    )
    try:
        assert server.stdout is not None
        printed = [server.stdout.readline() for _ in range(lines)]
        yield printed[1].strip().partition("=")[2], "".join(printed)
    finally:
        server.terminate()
        server.communicate(timeout=10)


def refused_emulator_command(*options: str) -> subprocess.CompletedProcess[str]:
    """`speedpix emulator --port 0 OPTIONS` when the options are refused: it exits at once."""
    return subprocess.run(
        [sys.executable, "-c", _CLI, "emulator", "--port", "0", *options], capture_output=True, text=True, cwd=_ROOT
    )
