"""``SPEEDPIX_LOG=info|debug``: one line per HTTP attempt (method, path, status, duration,
attempt number, request id). Logging is configured from the environment when a Client is
built, so each case runs in its own process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from speedpix.testing import Emulator

pytestmark = pytest.mark.timeout(60)

LINE = re.compile(
    r"speedpix INFO (?P<method>GET|PUT|POST) (?P<path>/\S*) -> (?P<status>\d{3}|error=\w+) "
    r"in (?P<ms>\d+) ms \(attempt (?P<attempt>\d+), request_id=(?P<request_id>\S+)\)$"
)

SCRIPT = (
    "import sys, speedpix\n"
    "client = speedpix.Client(retry_delay=0.01)\n"
    "out = client.run('demo-echo', {'image': sys.argv[1]})\n"
    "out['images']['url'].read()\n"
)


def _run(emu: Emulator, level: str | None, png: Path) -> str:
    env = {
        **os.environ,
        "SPEEDPIX_APP_KEY": emu.app_key,
        "SPEEDPIX_APP_SECRET": emu.app_secret,
        "SPEEDPIX_ENDPOINT": emu.endpoint,
    }
    env.pop("SPEEDPIX_LOG", None)
    if level is not None:
        env["SPEEDPIX_LOG"] = level
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(png)], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize("level", ["info", "INFO", "debug"])
def test_one_line_per_http_attempt(level: str, speedpix_emulator: Emulator, png_file: Path) -> None:
    emu = speedpix_emulator
    emu.inject("/scc/comfy_get_progress", "http_error", status=503)
    emu.inject("/storage/upload/*", "drop_before")
    stderr = _run(emu, level, png_file)
    attempts = [m for line in stderr.splitlines() if (m := LINE.search(line))]
    # Every request the server saw has exactly one line, in order, with its request id.
    received = emu.requests
    assert len(attempts) == len(received), stderr
    for match, request in zip(attempts, received, strict=True):
        assert match["method"] == request.method
        assert match["path"] == request.path  # the path only: never a presigned query
        if request.status is None:  # dropped: no status, no request id
            assert match["status"].startswith("error=") and match["request_id"] == "-"
        else:
            assert int(match["status"]) == request.status
            assert match["request_id"] == request.request_id
    by_path = [(m["path"], m["status"], m["attempt"]) for m in attempts]
    assert ("/scc/comfy_get_progress", "503", "1") in by_path
    assert ("/scc/comfy_get_progress", "200", "2") in by_path
    assert any(p.startswith("/storage/upload/") and s.startswith("error=") and a == "1" for p, s, a in by_path)
    assert any(p.startswith("/storage/upload/") and s == "200" and a == "2" for p, s, a in by_path)
    assert emu.app_secret not in stderr
    if level == "debug":
        assert "retrying" in stderr


def test_silent_by_default(speedpix_emulator: Emulator, png_file: Path) -> None:
    assert _run(speedpix_emulator, None, png_file) == ""


def test_logger_is_the_speedpix_logger(speedpix_emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="speedpix")
    speedpix_emulator.client().run("demo-txt2img", {"prompt": "x"})
    records = [r for r in caplog.records if r.name == "speedpix"]
    assert len(records) == len(speedpix_emulator.requests) >= 2
    assert all(r.levelname == "INFO" for r in records)
