"""The Emulator object itself: lifecycle, inspection, reset, fixtures, the command."""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import httpx
import pytest

from speedpix.testing import Emulator, MissingExtraError
from speedpix.testing._server import _STOP_GRACE_S

from .conftest import post, submit, wait_done

PROMPT = {"workflow_id": "demo-txt2img", "inputs": {"prompt": "x"}}
REPO = Path(__file__).resolve().parents[2]


def test_starts_fast_and_stops_cleanly(http: httpx.Client) -> None:
    before = set(threading.enumerate())
    gc.collect()  # the block below judges the emulator's warnings, not earlier tests' garbage
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        started = time.monotonic()
        emu = Emulator(app_key="k", app_secret="s", port=0).start()
        # A bound that catches a hang or a fixed sleep in start-up; not a speed target.
        assert time.monotonic() - started < 2.0
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.endpoint)
        assert emu.endpoint.endswith(f":{emu.port}") and emu.port != 0
        assert (emu.app_key, emu.app_secret) == ("k", "s")
        # A keep-alive connection left open must not hold up the stop.
        assert post(http, emu, "/scc/comfy_prompt", PROMPT).status_code == 200
        stopping = time.monotonic()
        emu.stop()
        emu.stop()  # idempotent
        assert time.monotonic() - stopping < _STOP_GRACE_S  # did not wait out the grace for in-flight requests
    assert set(threading.enumerate()) <= before
    with pytest.raises(httpx.ConnectError):
        httpx.get(emu.endpoint + "/scc/comfy_prompt")
    assert emu.stats.tasks_created == 1  # inspection still works after stop


def test_two_emulators_run_side_by_side(http: httpx.Client) -> None:
    with Emulator() as first, Emulator(app_key="other", app_secret="secret") as second:
        assert first.endpoint != second.endpoint
        assert post(http, second, "/scc/comfy_prompt", PROMPT).json()["status"] == 10
        assert post(http, first, "/scc/comfy_prompt", PROMPT).json()["status"] == 10
        wrong = post(http, first, "/scc/comfy_prompt", PROMPT, app_key="other", secret="secret")
        assert wrong.status_code == 403


def test_stats_requests_and_reset(emu: Emulator, http: httpx.Client) -> None:
    task_id = submit(http, emu, "demo-txt2img", {"prompt": "cat"})
    post(http, emu, "/scc/comfy_get_progress", {"taskId": task_id})
    post(http, emu, "/scc/comfy_get_progress", {"taskId": task_id}, secret="bad")
    http.get(emu.endpoint + "/storage/files/x")
    assert emu.stats.requests_by_path == {
        "/scc/comfy_prompt": 1,
        "/scc/comfy_get_progress": 2,
        "/storage/files/x": 1,
    }
    assert emu.stats.tasks_created == 1
    first = emu.requests[0]
    assert (first.method, first.path, first.status) == ("POST", "/scc/comfy_prompt", 200)
    assert first.headers["x-ca-key"] == emu.app_key
    assert b'"prompt": "cat"' in first.body
    assert [r.status for r in emu.requests] == [200, 200, 400, 403]
    task = emu.tasks[0]
    assert (task.task_id, task.workflow_id, task.version) == (task_id, "demo-txt2img", "v1")
    assert task.created_ms <= task.begin_ms <= task.end_ms

    nonce_headers = {"nonce": "same"}
    assert post(http, emu, "/scc/comfy_get_progress", {"taskId": task_id}, **nonce_headers).status_code == 200
    emu.inject("/scc/comfy_prompt", "throttle")
    emu.clock_offset = 60
    emu.reset()
    assert emu.stats.requests_by_path == {} and emu.stats.tasks_created == 0
    assert emu.requests == [] and emu.tasks == []
    assert emu.clock_offset == 0
    assert post(http, emu, "/scc/comfy_prompt", PROMPT).status_code == 200  # fault cleared
    assert (
        post(http, emu, "/scc/comfy_get_progress", {"taskId": task_id}, **nonce_headers).json()["subErrCode"]
        == "TaskNotFound"
    )  # nonce forgotten, task forgotten
    assert "demo-echo" in {w for w in ("demo-echo",) if emu._registry.get(w)}


def test_register_keeps_workflows_across_reset(emu: Emulator, http: httpx.Client) -> None:
    emu.register("mine", lambda ctx, inputs: {"n": 1}, duration=0)
    emu.reset()
    task_id = submit(http, emu, "mine", {})
    assert wait_done(http, emu, task_id)["status"] == "succeeded"
    emu.register("mine", lambda ctx, inputs: {"n": 2}, duration=0)  # replaces
    task_id = submit(http, emu, "mine", {})
    wait_done(http, emu, task_id)
    assert emu.tasks[-1].result == {"n": 2}
    with pytest.raises(ValueError, match="unknown version"):
        emu.register("bad", lambda ctx, inputs: {}, aliases={"main": "v7"})
    with pytest.raises(ValueError, match="duration"):
        emu.register("bad", lambda ctx, inputs: {}, duration=-1)


def test_client_builds_a_speedpix_client(emu: Emulator) -> None:
    import speedpix

    client = emu.client()
    assert isinstance(client, speedpix.Client)


def test_missing_extra_gives_a_one_line_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(MissingExtraError) as caught:
        Emulator()
    assert str(caught.value) == (
        "speedpix.testing needs the 'testing' extra: install this SDK with it, e.g. pip install '.[testing]' in its "
        "clone (PyPI's speedpix is the original 1.0.4 SDK, without it)"
    )
    assert isinstance(caught.value, ImportError)


def test_importing_the_package_and_plugin_is_cheap() -> None:
    code = (
        "import sys, speedpix.testing, speedpix.testing.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('uvicorn', 'speedpix.testing.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['speedpix.testing.pytest_plugin']"


def test_fixture_gives_a_fresh_emulator(speedpix_emulator: Emulator, http: httpx.Client) -> None:
    assert speedpix_emulator.running
    assert speedpix_emulator.stats.tasks_created == 0
    assert post(http, speedpix_emulator, "/scc/comfy_prompt", PROMPT).json()["status"] == 10


@pytest.mark.parametrize("round_", [1, 2])
def test_session_fixture_is_shared_and_reset(
    speedpix_emulator_session: Emulator, http: httpx.Client, round_: int
) -> None:
    emu = speedpix_emulator_session
    assert emu.stats.tasks_created == 0 and emu.requests == []
    assert post(http, emu, "/scc/comfy_prompt", PROMPT).json()["status"] == 10
    emu.inject("/scc/comfy_prompt", "throttle")  # must not leak into the next round


def test_fixture_marker_and_plugin_in_a_user_project(pytester_dir: Path) -> None:
    (pytester_dir / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.speedpix_emulator(app_key="mine", app_secret="shh")
            def test_marker(speedpix_emulator):
                assert speedpix_emulator.app_key == "mine"
                assert speedpix_emulator.endpoint.startswith("http://127.0.0.1:")

            def test_session(speedpix_emulator_session):
                assert speedpix_emulator_session.stats.tasks_created == 0
            """
        )
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(pytester_dir)],
        capture_output=True,
        text=True,
        cwd=pytester_dir,
        timeout=60,
    )
    assert "2 passed" in out.stdout, out.stdout + out.stderr


@pytest.fixture
def pytester_dir(tmp_path: Path) -> Path:
    return tmp_path


def test_the_command_serves_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "speedpix.testing", "--port", "0", "--app-key", "ck", "--app-secret", "cs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
            assert match, first
            lines = [process.stdout.readline() for _ in range(3)]
            assert "SPEEDPIX_APP_KEY=ck" in lines[1] and "SPEEDPIX_APP_SECRET=cs" in lines[2]

            class Remote:
                endpoint = match.group(0)
                app_key, app_secret = "ck", "cs"

            with httpx.Client() as http:
                response = post(http, Remote, "/scc/comfy_prompt", PROMPT)  # type: ignore[arg-type]
            assert response.json()["status"] == 10
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
            assert "stopped" in process.stdout.read()
        finally:
            if process.poll() is None:
                process.kill()


def test_main_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    from speedpix.testing._serve import main

    with Emulator() as emu:
        assert main(["--port", str(emu.port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
