"""The ``speedpix`` command, run as a subprocess against the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from speedpix.testing import Emulator
from speedpix.testing._workflows import WorkflowContext, demo_txt2img

from .conftest import base_env, command, emulator_env, png_size, run_cli, start_cli

CLI = Callable[..., subprocess.CompletedProcess[str]]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def echo_inputs(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"echo": inputs}


def several_files(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "images": [
            {"url": ctx.store_file(PNG, content_type="image/png", filename="a.png"), "type": "image"},
            {"url": ctx.store_file(PNG + b"2", content_type="image/png", filename="b.png"), "type": "image"},
        ],
        "mask": ctx.store_file(JPEG, content_type="image/jpeg", filename="m.jpeg"),
        "notes": {"url": ctx.store_file(b"hello", content_type="text/plain", filename="notes.txt")},
        "seed": 42,
    }


@pytest.fixture(scope="module", autouse=True)
def workflows(module_emulator: Emulator) -> None:
    module_emulator.register("echo-inputs", echo_inputs)
    module_emulator.register("several-files", several_files)
    module_emulator.register("always-fails", echo_inputs, fail=True)
    # Long enough to outlast a `speedpix` subprocess's start (over a second on a slow
    # machine that compiles every module, PYTHONDONTWRITEBYTECODE being set).
    module_emulator.register("slow", echo_inputs, duration=30)
    module_emulator.register("medium", echo_inputs, duration=8.0)
    module_emulator.register("slow-image", demo_txt2img, duration=3.0)


def test_help_of_every_command_explains_it() -> None:
    env = base_env()
    procs = {
        name: subprocess.Popen(command(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, args in {
            "top": ["--help"],
            "run": ["run", "--help"],
            "get": ["get", "--help"],
            "upload": ["upload", "--help"],
            "batch": ["batch", "--help"],
            "demo": ["demo", "--help"],
            "emulator": ["emulator", "--help"],
        }.items()
    }
    out = {}
    for name, proc in procs.items():
        stdout, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, (name, stdout)
        out[name] = stdout
    for name in ("top", "run", "get", "upload", "batch", "demo"):
        assert "exit codes:" in out[name], name
        assert "4    timeout" in out[name], name
    for name in ("run", "get", "upload", "batch", "demo"):
        assert "usage: speedpix " + name in out[name]
    for word in ("run", "get", "upload", "batch", "emulator", "demo"):
        assert word in out["top"]
    assert "SPEEDPIX_APP_SECRET" in out["run"] and "KEY=@PATH" in out["run"]
    assert "--resubmit-unknown" in out["batch"] and "journal" in out["batch"]
    assert "--port" in out["emulator"]


def test_run_parses_json_strings_and_file_inputs(cli: CLI, emu: Emulator, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG)
    result = cli(
        "run",
        "echo-inputs",
        "-i", "prompt=a red fox",
        "-i", "width=512",
        "-i", "flag=true",
        "-i", 'tags=["a", "b"]',
        "-i", 'quoted="123"',
        "-i", "image=@photo.png",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    echoed = answer["output"]["echo"]
    assert echoed["prompt"] == "a red fox"
    assert echoed["width"] == 512 and echoed["flag"] is True
    assert echoed["tags"] == ["a", "b"] and echoed["quoted"] == "123"
    # The file was uploaded and the task received its URL, which serves the same bytes.
    assert echoed["image"].startswith(emu.endpoint)
    assert httpx.get(echoed["image"]).content == PNG
    (task,) = emu.tasks
    assert task.inputs["width"] == 512 and task.inputs["image"] == echoed["image"]
    assert answer["task_id"] == task.task_id and answer["status"] == "succeeded"


def test_run_option_sends_a_request_field_of_the_spec(cli: CLI, emu: Emulator) -> None:
    result = cli("run", "echo-inputs", "-i", "prompt=x", "--option", "return_temp_files=true", "--json")
    assert result.returncode == 0, result.stderr
    (submit,) = [r for r in emu.requests if r.path == "/scc/comfy_prompt"]
    body = json.loads(submit.body)
    assert body["return_temp_files"] is True and body["alias_id"] == "main"


def test_run_option_refuses_a_field_the_spec_does_not_have(cli: CLI, emu: Emulator) -> None:
    result = cli("run", "echo-inputs", "--option", "priority=3")
    assert result.returncode == 2
    assert "randomise_seeds" in result.stderr and "'priority=3'" in result.stderr
    assert not [r for r in emu.requests if r.path.startswith("/scc/")]


def test_run_base64_sends_data_uri(cli: CLI, emu: Emulator, tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(PNG)
    result = cli("run", "echo-inputs", "-i", "image=@photo.png", "--base64", "--json")
    assert result.returncode == 0, result.stderr
    (task,) = emu.tasks
    assert task.inputs["image"].startswith("data:image/png;base64,")
    assert emu.stats.requests_by_path.get("/scc/sp_create_temp_file_upload_sign", 0) == 0


def test_run_saves_every_file_with_a_readable_name(cli: CLI, tmp_path: Path) -> None:
    result = cli("run", "several-files", "-o", "out")
    assert result.returncode == 0, result.stderr
    paths = result.stdout.split()
    names = [Path(path).name for path in paths]
    assert names == ["images-0.png", "images-1.png", "mask.jpg", "notes.txt"]
    assert (tmp_path / "out" / "images-1.png").read_bytes() == PNG + b"2"
    assert (tmp_path / "out" / "mask.jpg").read_bytes() == JPEG
    assert (tmp_path / "out" / "notes.txt").read_bytes() == b"hello"
    assert not list((tmp_path / "out").glob(".*")), "no partial files left behind"
    # Progress went to stderr, not stdout.
    assert "submitted task" in result.stderr


def test_json_prints_exactly_one_object(cli: CLI, tmp_path: Path) -> None:
    result = cli("run", "demo-txt2img", "-i", "prompt=a cat", "-i", "width=64", "-o", "out", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    answer = json.loads(result.stdout)
    assert set(answer) >= {"task_id", "status", "output", "files", "error"}
    assert answer["status"] == "succeeded"
    (saved,) = answer["files"]
    assert png_size((tmp_path / saved).read_bytes()) == (64, 256)
    assert answer["output"]["images"]["url"].startswith("http")
    assert "task " in result.stderr  # the progress display is still on stderr


def test_failed_task_exits_1(cli: CLI) -> None:
    result = cli("run", "always-fails", "-i", "x=1", "--json")
    assert result.returncode == 1, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "failed" and answer["error"]
    assert "error: task" in result.stderr


def test_usage_errors_exit_2(cli: CLI, emu: Emulator, tmp_path: Path) -> None:
    missing_file = cli("run", "echo-inputs", "-i", "image=@nope.png")
    assert missing_file.returncode == 2 and "no such file" in missing_file.stderr
    bad_pair = cli("run", "echo-inputs", "-i", "novalue")
    assert bad_pair.returncode == 2 and "KEY=VALUE" in bad_pair.stderr
    too_deep = cli("run", "echo-inputs", "-i", "x=" + "[" * 100_000)
    assert too_deep.returncode == 2 and "JSON nested deeper than 256 levels" in too_deep.stderr
    bad_flag = cli("run", "echo-inputs", "--timeout", "soon")
    assert bad_flag.returncode == 2 and "--timeout" in bad_flag.stderr
    both = cli("run", "echo-inputs", "--alias", "main", "--version", "v1")
    assert both.returncode == 2
    no_command = cli()
    assert no_command.returncode == 2 and "usage: speedpix" in no_command.stderr
    # No credentials at all: a configuration error naming the variable.
    unconfigured = run_cli("run", "echo-inputs", env=base_env(), cwd=tmp_path)
    assert unconfigured.returncode == 2 and "SPEEDPIX_APP_KEY" in unconfigured.stderr
    assert emu.stats.tasks_created == 0


def test_api_and_authentication_errors_exit_3(cli: CLI, emu: Emulator) -> None:
    secret = "wrong-secret-do-not-echo"
    refused = cli("run", "echo-inputs", "--app-secret", secret, "--json")
    assert refused.returncode == 3, refused.stderr
    assert secret not in refused.stdout + refused.stderr
    assert json.loads(refused.stdout)["status"] == "error"
    unknown_workflow = cli("run", "no-such-workflow")
    assert unknown_workflow.returncode == 3 and "no-such-workflow" in unknown_workflow.stderr
    unreachable = cli("run", "echo-inputs", "--endpoint", "http://127.0.0.1:9")
    assert unreachable.returncode == 3
    assert emu.stats.tasks_created == 0


def test_timeout_exits_4_with_the_resume_line(cli: CLI, emu: Emulator) -> None:
    started = time.monotonic()
    result = cli("run", "slow", "--timeout", "0.5")
    assert time.monotonic() - started < 10
    assert result.returncode == 4, result.stderr
    (task,) = emu.tasks
    assert f"speedpix get {task.task_id} --wait" in result.stderr


def test_get_waits_for_a_task_and_saves_its_files(cli: CLI, emu: Emulator, tmp_path: Path) -> None:
    client = emu.client()
    prediction = client.predictions.create("slow-image", {"prompt": "later", "width": 32, "height": 32})
    now = cli("get", prediction.id, "--json")
    assert now.returncode == 0
    answer = json.loads(now.stdout)
    assert answer["task_id"] == prediction.id and answer["status"] in ("waiting", "running")
    waited = cli("get", prediction.id, "--wait", "-o", "got")
    assert waited.returncode == 0, waited.stderr
    (path,) = waited.stdout.split()
    assert Path(path).name == "images.png"
    assert png_size((tmp_path / path).read_bytes()) == (32, 32)
    assert emu.stats.tasks_created == 1


def test_get_of_a_running_task_says_how_to_follow_it(cli: CLI, emu: Emulator) -> None:
    prediction = emu.client().predictions.create("medium", {})
    result = cli("get", prediction.id)
    assert result.returncode == 0
    assert prediction.id in result.stdout and ("running" in result.stdout or "queued" in result.stdout)
    assert f"speedpix get {prediction.id} --wait" in result.stderr


def test_upload_prints_access_urls(cli: CLI, tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "b.jpg").write_bytes(JPEG)
    result = cli("upload", "a.png", "b.jpg")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.split()
    assert httpx.get(first).content == PNG
    assert httpx.get(second).content == JPEG
    missing = cli("upload", "a.png", "missing.png")
    assert missing.returncode == 2 and "missing.png" in missing.stderr


def test_demo_makes_a_png_with_no_environment(tmp_path: Path) -> None:
    result = run_cli("demo", env=base_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "speedpix-demo.png"
    assert png_size((tmp_path / "speedpix-demo.png").read_bytes()) == (256, 256)
    assert "submitted task" in result.stderr and "succeeded" in result.stderr
    elsewhere = run_cli("demo", "-o", "pics/fox.png", "--prompt", "a fox", env=base_env(), cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr
    png_size((tmp_path / "pics" / "fox.png").read_bytes())


def test_emulator_and_demo_without_the_testing_extra_exit_2(tmp_path: Path) -> None:
    code = "import sys; sys.modules['uvicorn'] = None\nfrom speedpix.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    for args in (["emulator", "--port", "0"], ["demo"]):
        result = subprocess.run(
            [sys.executable, "-c", code, *args], env=base_env(), cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "pip install '.[testing]'" in lines[0], lines


def test_emulator_command_serves_the_run_command(tmp_path: Path) -> None:
    server = subprocess.Popen(
        command("emulator", "--port", "0"), env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        settings = {}
        while len(settings) < 3:
            line = server.stdout.readline()
            assert line, server.stderr.read() if server.stderr else "emulator exited"
            key, _, value = line.strip().partition("=")
            if key.startswith("SPEEDPIX_"):
                settings[key] = value
        result = run_cli("run", "demo-txt2img", "-i", "prompt=hi", "--json", env=base_env(**settings), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["status"] == "succeeded"
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=10)
    assert server.returncode == 0


def test_ctrl_c_prints_the_task_id_and_the_resume_line(emu: Emulator, tmp_path: Path) -> None:
    proc = start_cli("run", "slow", "-o", "out", env=emulator_env(emu), cwd=tmp_path)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert "submitted task" in first, first
    time.sleep(0.3)  # now waiting
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=10)
    assert proc.returncode == 130
    (task,) = emu.tasks
    assert f"task {task.task_id} keeps running" in rest
    assert f"speedpix get {task.task_id} --wait -o out" in rest
    assert "Traceback" not in rest


def test_progress_is_one_rewritten_line_on_a_terminal(emu: Emulator, tmp_path: Path) -> None:
    import pty

    controller, terminal = pty.openpty()
    with subprocess.Popen(
        command("run", "slow-image", "-i", "prompt=hi", "-o", "out"),
        env=emulator_env(emu),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=terminal,
    ) as proc:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
        os.close(controller)
        stdout, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert stdout.decode().strip() == str(Path("out") / "images.png")
    text = shown.decode()
    updates = text.split("\r\x1b[K")
    assert len(updates) >= 3, text  # queued, running…, succeeded: rewritten in place
    assert "running [" in text and "ETA" in text
    assert updates[-1].startswith("task ") and "succeeded" in updates[-1]
