"""The messages a newcomer meets first: each says what to fix, in the words of where it shows."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

import speedpix
from speedpix import APIConnectionError, SignatureError
from speedpix.batch import run_batch
from speedpix.testing import Emulator

from .cli.conftest import base_env, run_cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_wrong_secret_is_named_as_the_wrong_secret() -> None:
    with Emulator(app_key="my-key", app_secret="the-right-secret") as emu:
        client = speedpix.Client("my-key", "a-wrong-secret", endpoint=emu.endpoint, max_retries=0)
        with client, pytest.raises(SignatureError) as caught:
            client.run("demo-txt2img", {"prompt": "p"})
    error = caught.value
    assert error.server_string_to_sign == error.client_string_to_sign  # the case: only the secret differs
    message = str(error)
    assert "app secret is wrong" in message and "SPEEDPIX_APP_SECRET" in message, message
    assert "check app_key and app_secret" not in message
    assert "a-wrong-secret" not in message and "the-right-secret" not in message


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_connection_error_names_the_endpoint_it_tried(mode: str) -> None:
    port = _closed_port()
    client = speedpix.Client("k", "s", endpoint=f"http://127.0.0.1:{port}/", max_retries=0)
    with pytest.raises(APIConnectionError) as caught:
        if mode == "sync":
            with client:
                client.predictions.get("01task")
        else:

            async def get() -> None:
                async with client:
                    await client.predictions.async_get("01task")

            asyncio.run(get())
    assert f"http://127.0.0.1:{port}" in str(caught.value), str(caught.value)


def test_a_download_error_names_the_host_but_never_the_presigned_query(tmp_path: Path) -> None:
    with Emulator() as emu, emu.client(max_retries=0) as client:
        output = client.run("demo-txt2img", {"prompt": "p"})
        url = output["images"]["url"]
        assert "?" in url  # a presigned link: its query is a credential
        port = emu.port
    # The emulator is gone: the download finds nothing listening there.
    with pytest.raises(APIConnectionError) as caught:
        url.read()
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}" in message, message
    query = url.split("?", 1)[1]
    assert query not in message and "?" not in message.split("127.0.0.1", 1)[1], message


def test_the_cli_without_credentials_names_its_flag_and_variable(tmp_path: Path) -> None:
    result = run_cli("run", "demo-txt2img", "-i", "prompt=p", env=base_env(), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--app-key" in result.stderr and "SPEEDPIX_APP_KEY" in result.stderr, result.stderr
    assert "app_key=" not in result.stderr
    no_secret = run_cli("run", "demo-txt2img", "-i", "prompt=p", env=base_env(SPEEDPIX_APP_KEY="k"), cwd=tmp_path)
    assert no_secret.returncode == 2
    assert "--app-secret" in no_secret.stderr and "SPEEDPIX_APP_SECRET" in no_secret.stderr, no_secret.stderr
    assert "app_secret=" not in no_secret.stderr


def test_results_give_an_error_code_for_a_refused_submission_as_for_a_failed_task(tmp_path: Path) -> None:
    jobs = [
        {"id": "missing-workflow", "workflow_id": "no-such-workflow", "input": {"prompt": "p"}},
        {"id": "failed-task", "workflow_id": "demo-txt2img", "input": {}},  # no prompt: the task fails
    ]
    with Emulator() as emu, emu.client(max_retries=0) as client:
        summary = run_batch(jobs, tmp_path / "out", client=client)
    lines = [json.loads(line) for line in summary.results_path.read_text().splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert by_id["missing-workflow"]["status"] == "failed"
    assert by_id["missing-workflow"]["error_code"] == "WorkflowNotFound", by_id
    assert by_id["failed-task"]["status"] == "failed" and by_id["failed-task"]["error_code"], by_id


def test_a_timed_out_submission_reads_as_a_sentence(speedpix_emulator: Emulator) -> None:
    emu = speedpix_emulator
    emu.inject("/scc/comfy_prompt", "slow", count=1, delay=2.0)
    client = emu.client(timeout=0.3, max_retries=0)
    with pytest.raises(speedpix.APITimeoutError) as caught:
        client.run("demo-txt2img", {"prompt": "x"})
    message = str(caught.value)
    assert message.startswith("comfy_prompt timed out: "), message
    words, _, rest = message.partition(" (")
    assert "Timeout" not in words  # the words first; the HTTP library's name in parentheses
    assert "). The request may have reached the service" in rest, message


def test_a_wait_timeout_says_what_the_task_was_doing(speedpix_emulator: Emulator) -> None:
    emu = speedpix_emulator
    emu.configure("demo-txt2img", queue_time=5.0, duration=1.0)
    client = emu.client()
    with pytest.raises(speedpix.PredictionTimeoutError) as caught:
        client.run("demo-txt2img", {"prompt": "x"}, timeout=0.5)
    message = str(caught.value)
    assert "was still queued when the wait timed out" in message, message
    assert f"predictions.get({caught.value.prediction.id!r})" in message
