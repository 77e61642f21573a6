"""The generated low-level client (``speedpix_api``) against recorded traffic.

Every cassette under ``tests/cassettes/`` is played back through the generated
operations, with :class:`speedpix._core.signing.GatewaySigner` attached as the httpx auth,
exactly as the façade wires it. Each test checks three things:

- the parsed model, field by field (including ``UNSET`` for missing fields and
  ``None`` for JSON nulls, which are different);
- the request the client put on the wire: the JSON body, the optional
  ``X-SP-RESOURCE-CONFIG-ID`` header, and a valid gateway signature (recomputed here
  from the documented string-to-sign layout with the test secret);
- that the cassette was played completely, and what it holds has no secret in it.

Nothing leaves the machine: ``record_mode="none"`` turns any unmatched request into an
error, and the one test that records talks to a server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.server
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from vcr.cassette import Cassette
from vcr.errors import CannotOverwriteExistingCassetteException

import speedpix_api
from speedpix._core.signing import GatewaySigner
from speedpix_api import errors
from speedpix_api.api.files import sp_create_temp_file_upload_sign
from speedpix_api.api.predictions import comfy_get_progress, comfy_get_result, comfy_prompt
from speedpix_api.models import (
    ComfyProgressData,
    ComfyProgressResponse,
    ComfyPromptData,
    ComfyPromptRequest,
    ComfyPromptRequestInputs,
    ComfyPromptResponse,
    ComfyResultData,
    ComfyResultDataResultType0,
    ComfyResultResponse,
    ProgressState,
    TaskIdRequest,
    UploadSignData,
    UploadSignRequest,
    UploadSignResponse,
)
from speedpix_api.types import UNSET
from tests._vcr import (
    BASE_URL,
    CASSETTE_DIR,
    FILTERED_REQUEST_HEADERS,
    RESOURCE_CONFIG_HEADER,
    TEST_APP_KEY,
    TEST_APP_SECRET,
    make_vcr,
)

JSON_MEDIA_TYPE = "application/json; charset=utf-8"
SIGNED_HEADER_LIST = "x-ca-timestamp,x-ca-key,x-ca-nonce,x-ca-signature-method"

ENVELOPE_EXAMPLE_TASK_ID = "01j5ssksqndptm3exv751bz0gj"
QUEUED_EXAMPLE_TASK_ID = "01j5t2qx82323pswaqykz9eq4"
POSTER_TASK_ID = "01jgmfckxtb8sb6bhs3s1xvy3c"
FAILED_TASK_ID = "01jgmg3w9r0c5k8h3tq6m2a7zd"
CANCELED_TASK_ID = "01jgmh7q2f9v6d3c8n4b5x1kze"

POSTER_URL = (
    "https://speedpix-output.oss-cn-beijing.aliyuncs.com/comfy/output/"
    "a153c27e31ed4e0f8c8721af0984ca5a_00000_.webp?Expires=1735792299"
)

# Every cassette and the test that plays it; a cassette without a test is an error.
CASSETTES = {
    "comfy_prompt_envelope_example.yaml",
    "comfy_prompt_artistic_characters.yaml",
    "comfy_prompt_flow_control.yaml",
    "comfy_get_progress_queued_example.yaml",
    "comfy_get_progress_polling_sequence.yaml",
    "comfy_get_progress_gateway_signature_error.yaml",
    "comfy_get_result_poster_example.yaml",
    "comfy_get_result_service_error.yaml",
    "comfy_get_result_canceled_minimal.yaml",
    "sp_create_temp_file_upload_sign_expire_int.yaml",
    "sp_create_temp_file_upload_sign_expire_string.yaml",
}


# --------------------------------------------------------------------------- helpers


def sync_client(sent: list[httpx.Request], **kwargs: Any) -> speedpix_api.Client:
    """A generated client signed like the façade's, remembering each request it sends.

    httpx runs request event hooks after the auth flow, so ``sent`` holds the
    signed requests as they go to the transport (where vcrpy intercepts them).
    """

    def remember(request: httpx.Request) -> None:
        sent.append(request)

    return speedpix_api.Client(
        base_url=BASE_URL,
        httpx_args={
            "auth": GatewaySigner(TEST_APP_KEY, TEST_APP_SECRET),
            "event_hooks": {"request": [remember]},
        },
        **kwargs,
    )


def async_client(sent: list[httpx.Request]) -> speedpix_api.Client:
    async def remember(request: httpx.Request) -> None:
        sent.append(request)

    return speedpix_api.Client(
        base_url=BASE_URL,
        httpx_args={
            "auth": GatewaySigner(TEST_APP_KEY, TEST_APP_SECRET),
            "event_hooks": {"request": [remember]},
        },
    )


@contextmanager
def playing(name: str, *, expected_plays: int = 1) -> Iterator[Cassette]:
    """Play a cassette; afterwards every interaction must have been played exactly once."""
    assert name in CASSETTES
    with make_vcr().use_cassette(name) as cassette:
        yield cassette
    assert cassette.play_count == expected_plays
    assert cassette.all_played
    for recorded in cassette.requests:
        for header in FILTERED_REQUEST_HEADERS:
            assert header not in recorded.headers
        assert recorded.headers["x-ca-key"] == TEST_APP_KEY


def assert_signed(request: httpx.Request) -> None:
    """The request carries a valid gateway signature made with the test credentials."""
    headers = request.headers
    assert request.method == "POST"
    assert headers["x-ca-key"] == TEST_APP_KEY
    assert headers["x-ca-signature-method"] == "HmacSHA256"
    assert headers["x-ca-signature-headers"] == SIGNED_HEADER_LIST
    assert uuid.UUID(headers["x-ca-nonce"]).version == 4
    assert re.fullmatch(r"\d{13}", headers["x-ca-timestamp"])
    assert headers["accept"] == JSON_MEDIA_TYPE
    assert headers["content-type"] == JSON_MEDIA_TYPE
    md5 = base64.b64encode(hashlib.md5(request.content).digest()).decode()
    assert headers["content-md5"] == md5
    # The documented layout (reference §6), written out independently of _signing.py.
    string_to_sign = "\n".join(
        [
            "POST",
            JSON_MEDIA_TYPE,
            md5,
            JSON_MEDIA_TYPE,
            headers["date"],
            f"x-ca-key:{TEST_APP_KEY}",
            f"x-ca-nonce:{headers['x-ca-nonce']}",
            "x-ca-signature-method:HmacSHA256",
            f"x-ca-timestamp:{headers['x-ca-timestamp']}",
            request.url.path,
        ]
    )
    expected = hmac.new(TEST_APP_SECRET.encode(), string_to_sign.encode(), hashlib.sha256).digest()
    assert headers["x-ca-signature"] == base64.b64encode(expected).decode()


def sent_json(request: httpx.Request) -> Any:
    return json.loads(request.content)


def assert_round_trips(parsed: Any, response_content: bytes) -> None:
    """The parsed model keeps everything the server sent: to_dict() gives the JSON back."""
    assert parsed.to_dict() == json.loads(response_content)


def main_prompt_request() -> ComfyPromptRequest:
    return ComfyPromptRequest(
        workflow_id="01jvp41b358md06w46fz1yz78a",
        alias_id="main",
        inputs=ComfyPromptRequestInputs.from_dict(
            {"image": "https://example.com/image.jpg", "text": "a cat wearing a hat"}
        ),
    )


MAIN_PROMPT_BODY = {
    "workflow_id": "01jvp41b358md06w46fz1yz78a",
    "alias_id": "main",
    "randomise_seeds": False,
    "return_temp_files": False,
    "inputs": {"image": "https://example.com/image.jpg", "text": "a cat wearing a hat"},
}


# ------------------------------------------------------------------- comfy_prompt


def test_comfy_prompt_envelope_example_with_resource_pools() -> None:
    sent: list[httpx.Request] = []
    with playing("comfy_prompt_envelope_example.yaml"), sync_client(sent) as client:
        response = comfy_prompt.sync_detailed(
            client=client, body=main_prompt_request(), x_sp_resource_config_id="a,b,default"
        )

    assert response.status_code == 200
    assert response.headers["x-ca-request-id"] == "AD06BF4D-D4F0-420C-BA3A-CE6D38226EDB"
    parsed = response.parsed
    assert isinstance(parsed, ComfyPromptResponse)
    assert parsed.status == 10
    assert parsed.api_invoke_id == "i_66c587a7c6fd500028c10e78"
    # Present as JSON null: None, not UNSET.
    assert parsed.err_code is None
    assert parsed.err_message is None
    assert parsed.sub_err_code is None
    assert parsed.sub_err_message is None
    # Absent from this response: UNSET.
    assert parsed.start_time is UNSET
    assert parsed.end_time is UNSET
    assert isinstance(parsed.data, ComfyPromptData)
    assert parsed.data.task_id == ENVELOPE_EXAMPLE_TASK_ID
    assert parsed.data.status == "waiting"
    assert parsed.data.estimated_duration_in_seconds is UNSET
    assert parsed.additional_properties == {}
    assert_round_trips(parsed, response.content)

    (request,) = sent
    assert request.url == f"{BASE_URL}/scc/comfy_prompt"
    assert sent_json(request) == MAIN_PROMPT_BODY
    assert request.headers[RESOURCE_CONFIG_HEADER] == "a,b,default"
    assert "x-sp-resource-config-id" not in request.headers["x-ca-signature-headers"]
    assert_signed(request)


def test_comfy_prompt_header_is_part_of_the_match() -> None:
    """Without the resource-pool header the recorded request does not match: the header
    the client sends is really compared, and nothing falls through to the network."""
    sent: list[httpx.Request] = []
    with (
        make_vcr().use_cassette("comfy_prompt_envelope_example.yaml") as cassette,
        sync_client(sent) as client,
        pytest.raises(CannotOverwriteExistingCassetteException),
    ):
        comfy_prompt.sync_detailed(client=client, body=main_prompt_request())
    assert cassette.play_count == 0
    (request,) = sent
    assert RESOURCE_CONFIG_HEADER not in request.headers


def test_comfy_prompt_by_version_with_estimate_async() -> None:
    sent: list[httpx.Request] = []
    body = ComfyPromptRequest(
        workflow_id="artistic_characters",
        version_id="v4",
        randomise_seeds=True,
        inputs=ComfyPromptRequestInputs.from_dict(
            {
                "prompt": "春天的花园",
                "control_image": "https://example.com/text.png",
                "steps": 20,
                "cfg": 1.5,
                "denoise": 1.0,
                "width": 1024,
                "height": 1024,
            }
        ),
    )

    async def call() -> speedpix_api.types.Response[ComfyPromptResponse]:
        async with async_client(sent) as client:
            return await comfy_prompt.asyncio_detailed(client=client, body=body)

    with playing("comfy_prompt_artistic_characters.yaml"):
        response = asyncio.run(call())

    parsed = response.parsed
    assert isinstance(parsed, ComfyPromptResponse)
    assert parsed.status == 10
    assert parsed.api_invoke_id == "i_67760892a0f3c1002a9d5e11"
    assert isinstance(parsed.data, ComfyPromptData)
    assert parsed.data.task_id == POSTER_TASK_ID
    assert parsed.data.status == "waiting"
    assert parsed.data.estimated_duration_in_seconds == 7.5
    assert_round_trips(parsed, response.content)

    (request,) = sent
    assert RESOURCE_CONFIG_HEADER not in request.headers
    payload = sent_json(request)
    assert payload["version_id"] == "v4"
    assert "alias_id" not in payload
    assert payload["randomise_seeds"] is True
    assert payload["inputs"]["prompt"] == "春天的花园"
    # Non-ASCII goes out as UTF-8, not \u escapes, and the signature covers those bytes.
    assert "春天的花园".encode() in request.content
    assert_signed(request)


def test_comfy_prompt_business_gateway_rate_limit() -> None:
    sent: list[httpx.Request] = []
    with playing("comfy_prompt_flow_control.yaml"), sync_client(sent) as client:
        response = comfy_prompt.sync_detailed(
            client=client, body=main_prompt_request(), x_sp_resource_config_id="default"
        )

    assert response.status_code == 200
    parsed = response.parsed
    assert isinstance(parsed, ComfyPromptResponse)
    assert parsed.status == 20
    assert parsed.api_invoke_id == "i_66c5883e8b2a4f0025a7c301"
    assert parsed.err_code == "B_API_CauseFlowControl"
    assert parsed.err_message == "业务网关层触发限流:QPS limit of app exceeded"
    assert parsed.sub_err_code is None
    assert parsed.sub_err_message is None
    assert parsed.data is None
    assert_round_trips(parsed, response.content)
    (request,) = sent
    assert request.headers[RESOURCE_CONFIG_HEADER] == "default"
    assert_signed(request)


# ------------------------------------------------------------- comfy_get_progress


def test_comfy_get_progress_queued_example_async() -> None:
    sent: list[httpx.Request] = []

    async def call() -> speedpix_api.types.Response[ComfyProgressResponse]:
        async with async_client(sent) as client:
            return await comfy_get_progress.asyncio_detailed(
                client=client, body=TaskIdRequest(task_id=QUEUED_EXAMPLE_TASK_ID)
            )

    with playing("comfy_get_progress_queued_example.yaml"):
        response = asyncio.run(call())

    parsed = response.parsed
    assert isinstance(parsed, ComfyProgressResponse)
    assert parsed.status == 10
    assert parsed.api_invoke_id == "i_66c5ad0babc5ab0023d2e1f6"
    assert parsed.err_code is None
    assert parsed.sub_err_message is None
    # The undocumented top-level startTime/endTime nulls of the doc example.
    assert parsed.start_time is None
    assert parsed.end_time is None
    assert parsed.additional_properties == {}
    data = parsed.data
    assert isinstance(data, ComfyProgressData)
    assert data.task_id == QUEUED_EXAMPLE_TASK_ID
    assert data.status == "waiting"
    assert data.progress == 0
    assert data.eta_relative == 0
    assert data.last_queue_remaining == 1
    assert data.message is UNSET
    assert data.state is UNSET
    assert_round_trips(parsed, response.content)

    (request,) = sent
    assert request.url == f"{BASE_URL}/scc/comfy_get_progress"
    assert sent_json(request) == {"taskId": QUEUED_EXAMPLE_TASK_ID}
    assert_signed(request)


def test_comfy_get_progress_polling_sequence() -> None:
    sent: list[httpx.Request] = []
    body = TaskIdRequest(task_id=POSTER_TASK_ID)
    with (
        playing("comfy_get_progress_polling_sequence.yaml", expected_plays=3),
        sync_client(sent) as client,
    ):
        running = comfy_get_progress.sync(client=client, body=body)
        later = comfy_get_progress.sync(client=client, body=body)
        done = comfy_get_progress.sync(client=client, body=body)

    assert isinstance(running, ComfyProgressResponse)
    assert running.api_invoke_id == "i_677608962d41e70024c1b0a5"
    assert isinstance(running.data, ComfyProgressData)
    assert running.data.status == "running"
    assert running.data.progress == pytest.approx(0.6)
    assert running.data.eta_relative == pytest.approx(2.85)
    assert running.data.last_queue_remaining == 0
    assert running.data.message == "KSampler 12/20"
    state = running.data.state
    assert isinstance(state, ProgressState)
    assert state.node_label == "KSampler"
    assert state.step == 12
    assert state.max_steps == 20

    assert isinstance(later, ComfyProgressResponse)
    assert isinstance(later.data, ComfyProgressData)
    assert later.data.progress == pytest.approx(0.95)
    assert later.data.state is None
    assert later.start_time is UNSET

    # "successed" (the Chinese doc's spelling) is kept verbatim, and a data object
    # holding only `status` parses with every other field UNSET.
    assert isinstance(done, ComfyProgressResponse)
    assert done.status == 10
    assert done.api_invoke_id == "i_6776089a7b3f210027e8c4d9"
    assert done.err_code is UNSET
    assert done.sub_err_code is UNSET
    assert isinstance(done.data, ComfyProgressData)
    assert done.data.status == "successed"
    for field in ("task_id", "progress", "last_queue_remaining", "eta_relative", "message"):
        assert getattr(done.data, field) is UNSET, field
    assert done.data.state is UNSET

    assert len(sent) == 3
    nonces = {request.headers["x-ca-nonce"] for request in sent}
    assert len(nonces) == 3, "every request must be signed with a fresh nonce"
    for request in sent:
        assert sent_json(request) == {"taskId": POSTER_TASK_ID}
        assert_signed(request)


def test_gateway_signature_error_is_returned_unparsed() -> None:
    sent: list[httpx.Request] = []
    body = TaskIdRequest(task_id=QUEUED_EXAMPLE_TASK_ID)
    with playing("comfy_get_progress_gateway_signature_error.yaml"), sync_client(sent) as client:
        response = comfy_get_progress.sync_detailed(client=client, body=body)

    assert response.status_code == 400
    assert response.parsed is None
    assert response.content == b""
    assert response.headers["x-ca-request-id"] == "5DC8E76D-262F-43FB-B925-246725886E2C"
    message = response.headers["x-ca-error-message"]
    assert message.startswith("Invalid Signature, Server StringToSign:`POST#")
    assert "#/scc/comfy_get_progress`" in message
    assert_signed(sent[0])

    # With raise_on_unexpected_status the generated layer raises instead.
    with (
        playing("comfy_get_progress_gateway_signature_error.yaml"),
        sync_client([], raise_on_unexpected_status=True) as client,
        pytest.raises(errors.UnexpectedStatus) as excinfo,
    ):
        comfy_get_progress.sync_detailed(client=client, body=body)
    assert excinfo.value.status_code == 400


def test_unrecorded_request_fails_instead_of_reaching_the_network() -> None:
    with (
        make_vcr().use_cassette("comfy_get_progress_queued_example.yaml") as cassette,
        sync_client([]) as client,
        pytest.raises(CannotOverwriteExistingCassetteException),
    ):
        comfy_get_progress.sync_detailed(client=client, body=TaskIdRequest(task_id="01jnotrecorded000000000000"))
    assert cassette.play_count == 0


# --------------------------------------------------------------- comfy_get_result


def test_comfy_get_result_poster_example() -> None:
    sent: list[httpx.Request] = []
    with playing("comfy_get_result_poster_example.yaml"), sync_client(sent) as client:
        response = comfy_get_result.sync_detailed(client=client, body=TaskIdRequest(task_id=POSTER_TASK_ID))

    parsed = response.parsed
    assert isinstance(parsed, ComfyResultResponse)
    assert parsed.status == 10
    assert parsed.api_invoke_id == "i_6776089b19c46d0025fd4736"
    assert parsed.err_code is None
    data = parsed.data
    assert isinstance(data, ComfyResultData)
    assert data.task_id == POSTER_TASK_ID
    assert data.status == "succeeded"
    assert data.task_duration == 7208
    assert data.task_begin_time == 1735788691102
    assert data.task_end_time == 1735788698310
    assert data.task_end_time - data.task_begin_time == data.task_duration
    assert data.images == [POSTER_URL]
    assert data.info is UNSET
    assert data.parameters is UNSET
    assert data.imgs_bytes is UNSET

    result = data.result
    assert isinstance(result, ComfyResultDataResultType0)
    assert sorted(result.additional_keys) == ["caption", "poster"]
    assert result["caption"] == "a spring garden in bloom"
    poster = result["poster"]
    assert poster == {
        "filename": "a153c27e31ed4e0f8c8721af0984ca5a_00000_.webp",
        "object_key": "comfy/output/a153c27e31ed4e0f8c8721af0984ca5a_00000_.webp",
        "format": "webp",
        "width": 472,
        "height": 708,
        "type": "image",
        "url": POSTER_URL,
        "preview": POSTER_URL + "&x-oss-process=image/resize,w_256",
    }
    assert_round_trips(parsed, response.content)

    (request,) = sent
    assert request.url == f"{BASE_URL}/scc/comfy_get_result"
    assert sent_json(request) == {"taskId": POSTER_TASK_ID}
    assert_signed(request)


def test_comfy_get_result_application_error_async() -> None:
    sent: list[httpx.Request] = []

    async def call() -> ComfyResultResponse | None:
        async with async_client(sent) as client:
            return await comfy_get_result.asyncio(client=client, body=TaskIdRequest(task_id=FAILED_TASK_ID))

    with playing("comfy_get_result_service_error.yaml"):
        parsed = asyncio.run(call())

    assert isinstance(parsed, ComfyResultResponse)
    assert parsed.status == 20
    assert parsed.api_invoke_id == "i_67760b8c4e1d2a0029b7f6c3"
    assert parsed.err_code == "B_API_ServiceError"
    assert parsed.err_message == "服务调用失败"
    assert parsed.sub_err_code == "WORKFLOW_EXECUTE_FAILED"
    assert parsed.sub_err_message == "Error occurred when executing KSampler: CUDA out of memory"
    assert parsed.data is None
    (request,) = sent
    assert sent_json(request) == {"taskId": FAILED_TASK_ID}
    assert_signed(request)


def test_comfy_get_result_unknown_status_and_missing_fields() -> None:
    sent: list[httpx.Request] = []
    with playing("comfy_get_result_canceled_minimal.yaml"), sync_client(sent) as client:
        response = comfy_get_result.sync_detailed(client=client, body=TaskIdRequest(task_id=CANCELED_TASK_ID))

    parsed = response.parsed
    assert isinstance(parsed, ComfyResultResponse)
    assert parsed.status == 10
    for field in ("api_invoke_id", "err_code", "err_message", "sub_err_code", "sub_err_message"):
        assert getattr(parsed, field) is UNSET, field
    data = parsed.data
    assert isinstance(data, ComfyResultData)
    assert data.task_id == CANCELED_TASK_ID
    assert data.status == "canceled"
    for field in (
        "task_duration",
        "task_begin_time",
        "task_end_time",
        "images",
        "result",
        "info",
        "parameters",
        "imgs_bytes",
    ):
        assert getattr(data, field) is UNSET, field
    assert_round_trips(parsed, response.content)
    assert_signed(sent[0])


# ------------------------------------------------- sp_create_temp_file_upload_sign


def test_upload_sign_expire_time_number() -> None:
    sent: list[httpx.Request] = []
    with playing("sp_create_temp_file_upload_sign_expire_int.yaml"), sync_client(sent) as client:
        response = sp_create_temp_file_upload_sign.sync_detailed(
            client=client,
            body=UploadSignRequest(original_filename="cat.png", content_type="image/png", size=48213),
        )

    parsed = response.parsed
    assert isinstance(parsed, UploadSignResponse)
    assert parsed.status == 10
    assert parsed.api_invoke_id == "i_67760888f1c2b30026a4e9d7"
    data = parsed.data
    assert isinstance(data, UploadSignData)
    assert data.upload_url == (
        "https://speedpix-temp.oss-cn-beijing.aliyuncs.com/temp/2025/01/02/8f14e45f/cat.png"
        "?Expires=1735792280&x-oss-signature-version=OSS2"
    )
    assert data.access_url == ("https://speedpix-temp.oss-cn-beijing.aliyuncs.com/temp/2025/01/02/8f14e45f/cat.png")
    assert data.path == "temp/2025/01/02/8f14e45f/cat.png"
    assert data.object_key == "temp/2025/01/02/8f14e45f/cat.png"
    assert data.expire_time == 1735792280
    assert type(data.expire_time) is int
    assert_round_trips(parsed, response.content)

    (request,) = sent
    assert request.url == f"{BASE_URL}/scc/sp_create_temp_file_upload_sign"
    assert sent_json(request) == {
        "originalFilename": "cat.png",
        "contentType": "image/png",
        "size": 48213,
    }
    assert_signed(request)


def test_upload_sign_expire_time_string_async() -> None:
    sent: list[httpx.Request] = []

    async def call() -> speedpix_api.types.Response[UploadSignResponse]:
        async with async_client(sent) as client:
            return await sp_create_temp_file_upload_sign.asyncio_detailed(
                client=client,
                body=UploadSignRequest(original_filename="voice.wav", content_type="audio/wav"),
            )

    with playing("sp_create_temp_file_upload_sign_expire_string.yaml"):
        response = asyncio.run(call())

    parsed = response.parsed
    assert isinstance(parsed, UploadSignResponse)
    assert parsed.api_invoke_id == "i_67760966a9d4e50021c8b3f0"
    data = parsed.data
    assert isinstance(data, UploadSignData)
    # A string stays a string: no coercion of "1735792502000" to a number.
    assert data.expire_time == "1735792502000"
    assert type(data.expire_time) is str
    assert data.access_url is None
    assert data.object_key == "temp/2025/01/02/c9f0f895/voice.wav"
    assert data.upload_url.startswith(
        "https://speedpix-temp.oss-cn-beijing.aliyuncs.com/temp/2025/01/02/c9f0f895/voice.wav?"
    )
    assert_round_trips(parsed, response.content)

    (request,) = sent
    assert sent_json(request) == {"originalFilename": "voice.wav", "contentType": "audio/wav"}
    assert_signed(request)


# ------------------------------------------------------------- cassette hygiene


def cassette_paths() -> list[Path]:
    return sorted(CASSETTE_DIR.glob("*"))


def test_every_cassette_is_played_by_a_test() -> None:
    assert {path.name for path in cassette_paths()} == CASSETTES


@pytest.mark.parametrize("path", cassette_paths(), ids=lambda path: path.name)
def test_cassette_holds_no_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert TEST_APP_SECRET not in text
    # No x-ca-signature header, in whatever YAML layout.
    assert not re.search(r"(?im)^[\s-]*['\"]?x-ca-signature['\"]?\s*:", text)
    assert not re.search(r"(?im)^[\s-]*['\"]?x-ca-nonce['\"]?\s*:", text)

    content = yaml.safe_load(text)
    assert content["version"] == 1
    assert content["interactions"], "a cassette without interactions proves nothing"
    for interaction in content["interactions"]:
        request = interaction["request"]
        assert request["uri"].startswith(BASE_URL + "/scc/")
        names = {name.lower() for name in request["headers"]}
        assert names.isdisjoint(FILTERED_REQUEST_HEADERS)
        assert request["headers"]["x-ca-key"] == [TEST_APP_KEY]


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers every POST with a small progress envelope; remembers request headers."""

    received: list[dict[str, str]]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.append({name.lower(): value for name, value in self.headers.items()})
        body = b'{"status":10,"apiInvokeId":"i_local","data":{"status":"running","progress":0.5}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def loopback_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []
    handler: Callable[..., _EchoHandler] = type("Handler", (_EchoHandler,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_new_recordings_are_filtered(tmp_path: Path) -> None:
    """Recording with the project's VCR config (against a loopback server) writes no
    signature, nonce or secret, while the server did receive them; the recording
    then replays with the server gone."""
    body = TaskIdRequest(task_id="01jlocal0000000000000000000")
    recorder = make_vcr(cassette_library_dir=str(tmp_path), record_mode="once")

    with loopback_server() as (url, received):
        client = speedpix_api.Client(base_url=url, httpx_args={"auth": GatewaySigner(TEST_APP_KEY, TEST_APP_SECRET)})
        with recorder.use_cassette("recorded.yaml"), client:
            recorded = comfy_get_progress.sync(client=client, body=body)

    assert isinstance(recorded, ComfyProgressResponse)
    assert isinstance(recorded.data, ComfyProgressData)
    assert recorded.data.progress == 0.5
    (seen,) = received
    assert seen["x-ca-signature"]
    assert seen["x-ca-nonce"]

    text = (tmp_path / "recorded.yaml").read_text(encoding="utf-8")
    assert TEST_APP_SECRET not in text
    assert seen["x-ca-signature"] not in text
    assert seen["x-ca-nonce"] not in text
    (interaction,) = yaml.safe_load(text)["interactions"]
    names = {name.lower() for name in interaction["request"]["headers"]}
    assert names.isdisjoint(FILTERED_REQUEST_HEADERS)
    assert {"x-ca-key", "x-ca-timestamp", "content-md5"} <= names

    # Replay: the server is shut down, so only the cassette can answer.
    replayer = make_vcr(cassette_library_dir=str(tmp_path))
    with (
        replayer.use_cassette("recorded.yaml") as cassette,
        speedpix_api.Client(base_url=url, httpx_args={"auth": GatewaySigner(TEST_APP_KEY, TEST_APP_SECRET)}) as client,
    ):
        replayed = comfy_get_progress.sync(client=client, body=body)
    assert cassette.all_played
    assert replayed == recorded
