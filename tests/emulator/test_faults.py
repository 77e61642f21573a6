"""Faults on demand: each kind, matching, counting."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from speedpix.testing import Emulator

from .conftest import post, submit, upload

PROMPT = {"workflow_id": "demo-txt2img", "inputs": {"prompt": "x"}}


def test_http_error_with_retry_after(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_prompt", "http_error", status=503, retry_after=7, body="try later")
    response = post(http, emu, "/scc/comfy_prompt", PROMPT)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.text == "try later"
    assert emu.stats.tasks_created == 0
    assert post(http, emu, "/scc/comfy_prompt", PROMPT).json()["status"] == 10  # count=1 used up


def test_throttle_is_the_gateways_403(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_get_progress", "throttle")
    response = post(http, emu, "/scc/comfy_get_progress", {"taskId": "x"})
    assert response.status_code == 403
    assert response.headers["x-ca-error-message"] == "Throttled by APP Flow Control"


def test_flow_control_is_the_business_gateways_envelope(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_prompt", "flow_control")
    response = post(http, emu, "/scc/comfy_prompt", PROMPT)
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status"] == 20
    assert envelope["errCode"] == "B_API_CauseFlowControl"
    assert envelope["errMessage"].startswith("业务网关层触发限流:")
    assert emu.stats.tasks_created == 0


def test_slow_delays_then_handles_normally(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_prompt", "slow", delay=0.3)
    started = time.monotonic()
    response = post(http, emu, "/scc/comfy_prompt", PROMPT)
    assert time.monotonic() - started >= 0.3
    assert response.json()["status"] == 10
    emu.inject("/scc/comfy_prompt", "slow", delay=2)
    with httpx.Client(timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        post(impatient, emu, "/scc/comfy_prompt", PROMPT)


def test_drop_before_creates_no_task(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_prompt", "drop_before")
    with pytest.raises(httpx.RemoteProtocolError):
        post(http, emu, "/scc/comfy_prompt", PROMPT)
    assert emu.stats.tasks_created == 0
    assert emu.requests[-1].status is None
    assert post(http, emu, "/scc/comfy_prompt", PROMPT).json()["status"] == 10


def test_drop_after_creates_the_task_but_sends_nothing(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_prompt", "drop_after")
    with pytest.raises(httpx.RemoteProtocolError):
        post(http, emu, "/scc/comfy_prompt", PROMPT)
    assert emu.stats.tasks_created == 1
    assert emu.tasks[0].inputs == {"prompt": "x"}


def test_malformed_json_is_a_200_with_a_broken_body(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_prompt", "malformed_json")
    response = post(http, emu, "/scc/comfy_prompt", PROMPT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_html_error_page(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_get_result", "html_error")
    response = post(http, emu, "/scc/comfy_get_result", {"taskId": "x"})
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_not_found(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_get_result", "not_found")
    response = post(http, emu, "/scc/comfy_get_result", {"taskId": "x"})
    assert response.status_code == 404
    assert response.headers["x-ca-error-message"] == "Invalid Url"


def test_prefix_patterns_counts_and_storage_faults(emu: Emulator, http: httpx.Client) -> None:
    uploaded = upload(http, emu, b"data", "text/plain", "a.txt")
    emu.inject("/storage/*", "http_error", count=2, status=500)
    assert http.get(uploaded["accessUrl"]).status_code == 500
    assert http.get(uploaded["accessUrl"]).status_code == 500
    assert http.get(uploaded["accessUrl"]).content == b"data"
    emu.inject("/storage/files/*", "drop_after")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(uploaded["accessUrl"])
    emu.inject("/storage/*", "not_found")
    assert "NoSuchKey" in http.get(uploaded["accessUrl"]).text


def test_faults_apply_in_injection_order_and_only_to_matching_paths(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_get_result", "throttle")
    emu.inject("/scc/*", "http_error", status=502)
    assert post(http, emu, "/scc/comfy_prompt", PROMPT).status_code == 502
    assert post(http, emu, "/scc/comfy_get_result", {"taskId": "x"}).status_code == 403
    assert post(http, emu, "/scc/comfy_get_result", {"taskId": "x"}).status_code == 200


def test_inject_validates_its_arguments(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.inject("/scc/comfy_prompt", "explode")
    with pytest.raises(TypeError, match="delay"):
        emu.inject("/scc/comfy_prompt", "throttle", delay=1)
    with pytest.raises(ValueError, match="count"):
        emu.inject("/scc/comfy_prompt", "throttle", count=0)


def test_an_upload_put_can_be_dropped(emu: Emulator, http: httpx.Client) -> None:
    sign = post(
        http,
        emu,
        "/scc/sp_create_temp_file_upload_sign",
        {"originalFilename": "a.bin", "contentType": "application/octet-stream"},
    ).json()["data"]
    emu.inject("/storage/upload/*", "drop_before")
    with pytest.raises(httpx.RemoteProtocolError):
        http.put(sign["uploadUrl"], content=b"x" * 100_000, headers={"content-type": "application/octet-stream"})
    assert http.get(sign["accessUrl"]).status_code == 404
    put = http.put(sign["uploadUrl"], content=b"y", headers={"content-type": "application/octet-stream"})
    assert put.status_code == 200


def test_drop_after_on_submit_then_polling_finds_the_task(emu: Emulator, http: httpx.Client) -> None:
    emu.inject("/scc/comfy_prompt", "drop_after")
    with pytest.raises(httpx.RemoteProtocolError):
        submit(http, emu, "demo-txt2img", {"prompt": "lost"})
    (task,) = emu.tasks
    assert task.status in ("running", "succeeded")
