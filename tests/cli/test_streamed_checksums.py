"""Output checksums are computed while the bytes stream (issue 21): the saves hand back
each file's size and SHA-256, and no saved output is ever opened again to hash it or to
sniff its type. An audit hook (``sys.addaudithook``) records every ``open`` of a path
under the output folder while the code runs; none may be for reading."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import speedpix
from speedpix._apps.saving import save_outputs
from speedpix.batch import run_batch
from speedpix.cli import main
from speedpix.testing import Emulator

pytestmark = pytest.mark.timeout(60)

# Audit hooks cannot be removed: one hook, installed once, records only while a test
# watches a folder (a list of (path, mode, flags) per watched folder).
_watched: dict[str, list[tuple[str, Any, int]]] = {}
_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "open" or not _watched:
        return
    path, mode, flags = args
    if not isinstance(path, str | bytes | os.PathLike):
        return  # a file descriptor
    text = os.fsdecode(os.fspath(path))
    with _lock:
        for folder, opened in _watched.items():
            if os.path.abspath(text).startswith(folder):
                opened.append((text, mode, flags))


@contextmanager
def opens_under(folder: Path) -> Iterator[list[tuple[str, Any, int]]]:
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    opened: list[tuple[str, Any, int]] = []
    key = str(folder.resolve()) + os.sep
    with _lock:
        _watched[key] = opened
    try:
        yield opened
    finally:
        with _lock:
            del _watched[key]


def reads(opened: list[tuple[str, Any, int]]) -> list[str]:
    """The paths opened for reading: builtins.open's mode with r or +, os.open's flags."""
    found = []
    for path, mode, flags in opened:
        if isinstance(mode, str):
            reading = "r" in mode or "+" in mode
        else:
            reading = (flags & os.O_ACCMODE) in (os.O_RDONLY, os.O_RDWR)
        if reading:
            found.append(path)
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_hook_sees_a_read(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"x")
    with opens_under(tmp_path) as opened:
        (tmp_path / "x").read_bytes()
        (tmp_path / "y").write_bytes(b"y")
    assert reads(opened) == [str(tmp_path / "x")] and len(opened) == 2


@pytest.fixture
def client(emu: Emulator) -> Iterator[speedpix.Client]:
    with emu.client() as c:
        yield c


def test_save_outputs_hashes_as_it_streams(client: speedpix.Client, tmp_path: Path) -> None:
    """The helper behind ``speedpix run -o DIR``: names from the streamed head, checksums too."""
    node = client.run("demo-txt2img", {"prompt": "a fox"}, polling_interval=0.005)
    output = {"images": [node["images"], node["images"]["url"]], "big": node["images"]}
    out = tmp_path / "out"
    with opens_under(out) as opened:
        saved = save_outputs(output, out)
    assert opened and reads(opened) == []
    assert [Path(file.path).name for file in saved] == ["images-0.png", "images-1.png", "big.png"]
    for file in saved:
        path = Path(file.path)
        assert file.bytes == path.stat().st_size and file.sha256 == sha256(path)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_save_hands_back_its_checksum_in_both_drivers(mode: str, client: speedpix.Client, tmp_path: Path) -> None:
    image = client.run("demo-txt2img", {"prompt": "an owl"}, polling_interval=0.005)["images"]
    with opens_under(tmp_path) as opened:
        handle, flow = image.file._saved(tmp_path, image.filename)
        saved = handle.run_sync(flow) if mode == "sync" else asyncio.run(handle.run_async(flow))
    assert reads(opened) == []
    path = Path(saved.path)
    assert path == tmp_path / image.filename
    assert saved.bytes == path.stat().st_size and saved.sha256 == sha256(path)
    # The public save() still returns the path alone.
    assert image.save(tmp_path / "again.png") == tmp_path / "again.png"


def test_speedpix_run_o_saves_without_rereading(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPEEDPIX_ENDPOINT", emu.endpoint)
    monkeypatch.setenv("SPEEDPIX_APP_KEY", emu.app_key)
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", emu.app_secret)
    out = tmp_path / "out"
    with opens_under(out) as opened:
        code = main(["run", "demo-txt2img", "-i", "prompt=a fox", "-q", "--json", "-o", str(out)])
    assert code == 0
    (file,) = json.loads(capsys.readouterr().out)["files"]
    assert Path(file) == out / "images.png" and Path(file).read_bytes().startswith(b"\x89PNG")
    assert opened and reads(opened) == []


def test_a_batch_records_checksums_without_rereading(emu: Emulator, tmp_path: Path) -> None:
    jobs = [
        {"id": "fox", "workflow_id": "demo-txt2img", "input": {"prompt": "a fox"}},
        {"id": "owl", "workflow_id": "demo-txt2img", "input": {"prompt": "an owl", "width": 40}},
    ]
    out = tmp_path / "out"
    with emu.client() as client, opens_under(out) as opened:
        summary = run_batch(jobs, out, client=client, concurrency=2)
    assert summary.ok, summary.count_line()
    outputs = [path for path, _, _ in opened if Path(path).parent.name in ("fox", "owl")]
    assert outputs and reads(opened) == []  # written (.part files), never read: not even results.jsonl's
    for line in map(json.loads, (out / "results.jsonl").read_text().splitlines()):
        (record,) = line["outputs"]
        saved = out / record["path"]
        assert saved == out / line["id"] / "images.png"
        assert record["bytes"] == saved.stat().st_size and record["sha256"] == sha256(saved)
