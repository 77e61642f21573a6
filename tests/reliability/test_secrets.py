"""Secrets and safety: the app secret and the signatures never show; TLS is verified;
storage hosts never get gateway headers; plain strings become files only by DESIGN §2's rule."""

from __future__ import annotations

import json
import logging
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import speedpix
from speedpix import SignatureError
from speedpix.testing import Emulator

from .conftest import FAST, PNG_SIGNATURE

pytestmark = pytest.mark.timeout(60)

SECRET = "s3cr3t-Value-that-must-not-leak"
CASSETTES = Path(__file__).parent.parent / "cassettes"


def _signatures(emu: Emulator) -> set[str]:
    return {r.headers["x-ca-signature"] for r in emu.requests if "x-ca-signature" in r.headers}


def _assert_clean(text: str, emu: Emulator, *, secret: str = SECRET) -> None:
    assert secret not in text
    for signature in _signatures(emu):
        assert signature not in text


def _full_run(emu: Emulator, client: speedpix.Client, png: Path) -> Any:
    """A run with an upload, retries on several endpoints and an output download."""
    emu.inject("/scc/sp_create_temp_file_upload_sign", "http_error", status=503)
    emu.inject("/storage/upload/*", "drop_before")
    emu.inject("/scc/comfy_prompt", "throttle")
    emu.inject("/scc/comfy_get_progress", "malformed_json")
    emu.inject("/storage/files/*", "http_error", status=500)
    output = client.run("demo-echo", {"image": png})
    assert output["images"]["url"].read() == png.read_bytes()
    return output


@pytest.mark.speedpix_emulator(app_secret=SECRET)
def test_nothing_shows_the_secret_or_a_signature(
    speedpix_emulator: Emulator, png_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu = speedpix_emulator
    client = emu.client(**FAST)
    caplog.set_level(logging.DEBUG)  # every logger, httpx's and httpcore's included
    output = _full_run(emu, client, png_file)
    prediction = client.predictions.create("demo-txt2img", {"prompt": "x"})
    prediction.wait()
    uploaded = client.files.create(png_file)
    # And the errors: a refused signature echoes the server's string-to-sign.
    wrong = speedpix.Client(emu.app_key, "wrong-" + SECRET, endpoint=emu.endpoint, **FAST)
    with pytest.raises(SignatureError) as caught:
        wrong.run("demo-txt2img", {"prompt": "x"})
    error = caught.value
    objects: list[Any] = [
        client,
        client.api,
        client._handle.transport.signer,
        client._handle.config,
        prediction,
        uploaded,
        output,
        output["images"],
        output["images"]["url"],
        error,
        error.server_string_to_sign,
        error.client_string_to_sign,
        wrong,
    ]
    for obj in objects:
        _assert_clean(repr(obj), emu)
        _assert_clean(str(obj), emu)
        _assert_clean(repr(obj), emu, secret="wrong-" + SECRET)
        _assert_clean(str(obj), emu, secret="wrong-" + SECRET)
    assert len(_signatures(emu)) > 5
    log = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "speedpix" in log
    _assert_clean(log, emu)
    assert "wrong-" + SECRET not in log
    # Our own lines never carry a presigned storage URL's query (its signature).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("speedpix"))
    assert "Signature=" not in ours and "Expires=" not in ours


def test_debug_log_to_stderr_has_no_secret(speedpix_emulator: Emulator, png_file: Path) -> None:
    """``SPEEDPIX_LOG=debug`` in a separate process, across uploads, retries and downloads."""
    emu = speedpix_emulator
    emu.inject("/scc/sp_create_temp_file_upload_sign", "throttle")
    emu.inject("/storage/upload/*", "http_error", status=503)
    emu.inject("/scc/comfy_get_progress", "drop_after")
    emu.inject("/storage/files/*", "drop_before")
    script = (
        "import sys, speedpix\n"
        "client = speedpix.Client(retry_delay=0.01)\n"
        "out = client.run('demo-echo', {'image': sys.argv[1]})\n"
        "assert out['images']['url'].read() == open(sys.argv[1], 'rb').read()\n"
        "print('done')\n"
    )
    env = {
        **os.environ,
        "SPEEDPIX_LOG": "debug",
        "SPEEDPIX_APP_KEY": emu.app_key,
        "SPEEDPIX_APP_SECRET": emu.app_secret,
        "SPEEDPIX_ENDPOINT": emu.endpoint,
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(png_file)], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "done" in done.stdout
    assert "retrying" in done.stderr and "attempt 2" in done.stderr
    _assert_clean(done.stderr + done.stdout, emu, secret=emu.app_secret)
    assert "Signature=" not in done.stderr


def test_cassettes_hold_no_secret() -> None:
    from tests._vcr import TEST_APP_SECRET

    files = sorted(CASSETTES.glob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text()
        assert TEST_APP_SECRET not in text, path
        assert "authorization" not in text.lower(), path
        for interaction in yaml.safe_load(text)["interactions"]:
            headers = {k.lower() for k in interaction["request"].get("headers", {})}
            assert "x-ca-signature" not in headers, path


def _ssl_contexts(client: httpx.Client | httpx.AsyncClient) -> list[ssl.SSLContext]:
    transport = client._transport  # type: ignore[union-attr]
    if isinstance(client, httpx.AsyncClient):  # httpx-aiohttp's transport
        return [transport.ssl_context]
    return [transport._connections._ssl_context]


def test_tls_is_verified_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPEEDPIX_ENDPOINT", raising=False)
    client = speedpix.Client("key", "secret")
    assert client.endpoint.startswith("https://")
    transport = client._handle.transport
    assert transport.config.verify is True
    for http in (transport.sync_api, transport.sync_storage):
        for context in _ssl_contexts(http):
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.check_hostname is True

    async def async_contexts() -> list[ssl.SSLContext]:
        # Async calls go through aiohttp; every client uses the client's one context.
        await transport.prepare_async()
        return [*_ssl_contexts(transport.async_api()), *_ssl_contexts(await transport.async_storage())]

    import asyncio

    for context in asyncio.run(async_contexts()):
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
    # The low-level client shares the verified pool.
    assert client.api.get_httpx_client() is transport.sync_api


def test_storage_requests_carry_no_gateway_headers(speedpix_emulator: Emulator, png_file: Path) -> None:
    emu = speedpix_emulator
    client = emu.client(**FAST)
    _full_run(emu, client, png_file)
    storage = [r for r in emu.requests if r.path.startswith("/storage/")]
    assert {r.method for r in storage} == {"PUT", "GET"}
    for request in storage:
        leaked = [h for h in request.headers if h.startswith("x-ca-") or h in ("authorization", "date", "content-md5")]
        assert leaked == [], (request.method, request.path, leaked)
    gateway = [r for r in emu.requests if r.path.startswith("/scc/")]
    assert gateway and all("x-ca-signature" in r.headers for r in gateway)


# ------------------------------------------------------------ DESIGN §2: plain strings


def _sent_inputs(emu: Emulator) -> dict[str, Any]:
    submit = [r for r in emu.requests if r.path == "/scc/comfy_prompt"][-1]
    inputs: dict[str, Any] = json.loads(submit.body)["inputs"]
    return inputs


def _uploads(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.method == "PUT" and r.path.startswith("/storage/upload/"))


@pytest.fixture
def inputs_workflow(speedpix_emulator: Emulator) -> Emulator:
    speedpix_emulator.register("inputs", lambda ctx, inputs: {"text": "ok"}, duration=0.01)
    return speedpix_emulator


def test_string_naming_a_media_file_is_uploaded(inputs_workflow: Emulator, png_file: Path) -> None:
    emu = inputs_workflow
    emu.client(**FAST).run("inputs", {"image": str(png_file)})
    assert _uploads(emu) == 1
    sent = _sent_inputs(emu)["image"]
    assert sent.startswith(emu.endpoint + "/storage/") and str(png_file) not in sent


@pytest.mark.parametrize("text", ["/etc/passwd", "/etc/hostname", "a cat on /etc/passwd", "/no/such/file.png", "."])
def test_other_strings_are_sent_as_text(inputs_workflow: Emulator, text: str) -> None:
    emu = inputs_workflow
    emu.client(**FAST).run("inputs", {"prompt": text})
    assert _uploads(emu) == 0
    assert _sent_inputs(emu)["prompt"] == text


def test_an_existing_non_media_file_is_sent_as_text(inputs_workflow: Emulator, tmp_path: Path) -> None:
    emu = inputs_workflow
    notes = tmp_path / "notes.txt"
    notes.write_text("private notes")
    key = tmp_path / "id_rsa"
    key.write_bytes(PNG_SIGNATURE + b"looks like an image inside, but the name says otherwise")
    emu.client(**FAST).run("inputs", {"a": str(notes), "b": str(key)})
    assert _uploads(emu) == 0
    assert _sent_inputs(emu) == {"a": str(notes), "b": str(key)}
    assert all(b"private notes" not in r.body for r in emu.requests)


def test_detection_can_be_turned_off(inputs_workflow: Emulator, png_file: Path) -> None:
    emu = inputs_workflow
    emu.client(detect_file_paths=False, **FAST).run("inputs", {"image": str(png_file)})
    assert _uploads(emu) == 0
    assert _sent_inputs(emu)["image"] == str(png_file)
    # A Path is always a file, whatever the option says.
    emu.client(detect_file_paths=False, **FAST).run("inputs", {"image": png_file})
    assert _uploads(emu) == 1
