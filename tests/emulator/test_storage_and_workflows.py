"""Uploads, downloads and the built-in workflows."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import zlib
from typing import Any

import httpx
import pytest

from speedpix.testing import Emulator, WorkflowContext

from .conftest import post, result, submit, upload, wait_done

SIGN_PATH = "/scc/sp_create_temp_file_upload_sign"


def sign_upload(http: httpx.Client, emu: Emulator, content_type: str, **extra: Any) -> dict[str, Any]:
    body = {"originalFilename": "photo.png", "contentType": content_type, **extra}
    envelope = post(http, emu, SIGN_PATH, body).json()
    assert envelope["status"] == 10, envelope
    data: dict[str, Any] = envelope["data"]
    return data


def test_upload_sign_returns_the_documented_fields(emu: Emulator, http: httpx.Client) -> None:
    data = sign_upload(http, emu, "image/png", size=123)
    assert set(data) == {"uploadUrl", "accessUrl", "objectKey", "path", "expireTime"}
    assert data["uploadUrl"].startswith(emu.endpoint + "/storage/upload/")
    assert data["accessUrl"].startswith(emu.endpoint + "/storage/files/")
    assert data["objectKey"].endswith("/photo.png")
    assert isinstance(data["expireTime"], int) and data["expireTime"] > 1_600_000_000_000


@pytest.mark.parametrize(
    "body",
    [
        {"contentType": "image/png"},
        {"originalFilename": "a.png"},
        {"originalFilename": "a", "contentType": "x/y", "size": -1},
    ],
)
def test_upload_sign_validates_its_body(emu: Emulator, http: httpx.Client, body: dict[str, Any]) -> None:
    envelope = post(http, emu, SIGN_PATH, body).json()
    assert (envelope["status"], envelope["subErrCode"]) == (20, "InvalidParameter")


def test_put_then_get_returns_identical_bytes(emu: Emulator, http: httpx.Client) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    data = sign_upload(http, emu, "image/png")

    def chunks() -> Any:  # a streamed (chunked) upload, as a large file would be sent
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    put = http.put(data["uploadUrl"], content=chunks(), headers={"content-type": "image/png"})
    assert put.status_code == 200
    assert put.headers["etag"]
    got = http.get(data["accessUrl"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert int(got.headers["content-length"]) == len(payload)
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(payload).digest()
    head = http.head(data["accessUrl"])
    assert head.status_code == 200 and head.headers["content-length"] == str(len(payload))
    recorded = next(r for r in emu.requests if r.method == "PUT")
    assert recorded.body == payload[: 64 * 1024]
    assert not any(name.startswith("x-ca-") for name in recorded.headers)


def test_put_with_another_content_type_is_refused(emu: Emulator, http: httpx.Client) -> None:
    data = sign_upload(http, emu, "image/png")
    put = http.put(data["uploadUrl"], content=b"abc", headers={"content-type": "image/jpeg"})
    assert put.status_code == 403
    assert put.headers["content-type"] == "application/xml"
    assert "<Code>SignatureDoesNotMatch</Code>" in put.text
    assert "image/jpeg" in put.text
    assert http.get(data["accessUrl"]).status_code == 404


def test_an_expired_upload_url_is_refused(emu: Emulator, http: httpx.Client) -> None:
    data = sign_upload(http, emu, "text/plain")
    emu.clock_offset = 3601
    put = http.put(data["uploadUrl"], content=b"late", headers={"content-type": "text/plain"})
    assert put.status_code == 403
    assert "<Code>AccessDenied</Code>" in put.text and "expired" in put.text


def test_a_tampered_url_is_refused(emu: Emulator, http: httpx.Client) -> None:
    data = sign_upload(http, emu, "text/plain")
    tampered = data["uploadUrl"].replace("photo.png", "other.png")
    put = http.put(tampered, content=b"x", headers={"content-type": "text/plain"})
    assert put.status_code == 403 and "SignatureDoesNotMatch" in put.text
    assert http.get(data["accessUrl"].split("?")[0]).status_code == 403  # unsigned GET


def test_unknown_files_are_404(emu: Emulator, http: httpx.Client) -> None:
    data = sign_upload(http, emu, "text/plain")  # signed but never uploaded
    response = http.get(data["accessUrl"])
    assert response.status_code == 404 and "<Code>NoSuchKey</Code>" in response.text
    assert http.get(emu.endpoint + "/storage/elsewhere").status_code == 404
    assert http.delete(data["accessUrl"]).status_code == 405


# -- built-in workflows ------------------------------------------------------------------


def png_info(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body)
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2)
    return width, height, zlib.decompress(chunks[b"IDAT"])


def test_demo_txt2img_returns_a_valid_png(emu: Emulator, http: httpx.Client) -> None:
    task_id = submit(http, emu, "demo-txt2img", {"prompt": "a red fox", "width": 64, "height": 40})
    wait_done(http, emu, task_id)
    data = result(http, emu, task_id)["data"]
    image = data["result"]["images"]
    assert image["type"] == "image" and image["format"] == "png"
    assert (image["width"], image["height"]) == (64, 40)
    assert image["filename"].endswith(".png")
    assert data["images"] == [image["url"]]
    response = http.get(image["url"])
    assert response.headers["content-type"] == "image/png"
    width, height, raw = png_info(response.content)
    assert (width, height) == (64, 40)
    assert len(raw) == height * (1 + width * 3)
    assert len(set(raw)) > 16  # an actual picture, not a flat fill


def test_demo_txt2img_is_deterministic_and_depends_on_the_prompt(emu: Emulator, http: httpx.Client) -> None:
    images = []
    for prompt in ("cat", "cat", "dog"):
        task_id = submit(http, emu, "demo-txt2img", {"prompt": prompt})
        wait_done(http, emu, task_id)
        url = result(http, emu, task_id)["data"]["result"]["images"]["url"]
        images.append(http.get(url).content)
    assert images[0] == images[1] != images[2]
    assert png_info(images[0])[:2] == (256, 256)


def test_demo_txt2img_caps_size_and_fails_without_prompt(emu: Emulator, http: httpx.Client) -> None:
    emu.configure("demo-txt2img", output_size=10)  # skip drawing a 2048x2048 picture
    capped = submit(http, emu, "demo-txt2img", {"prompt": "big", "width": 5000, "height": "100"})
    missing = submit(http, emu, "demo-txt2img", {"width": 10})
    wait_done(http, emu, capped)
    wait_done(http, emu, missing)
    image = result(http, emu, capped)["data"]["result"]["images"]
    assert (image["width"], image["height"]) == (2048, 100)
    failed = result(http, emu, missing)
    assert failed["status"] == 20
    assert failed["subErrMessage"].startswith("Missing required input 'prompt'")


def test_demo_echo_serves_an_uploaded_file_back(emu: Emulator, http: httpx.Client) -> None:
    payload = os.urandom(5000)
    uploaded = upload(http, emu, payload, "image/webp", "in.webp")
    task_id = submit(http, emu, "demo-echo", {"image": uploaded["accessUrl"]})
    assert wait_done(http, emu, task_id)["status"] == "succeeded"
    image = result(http, emu, task_id)["data"]["result"]["images"]
    assert image["type"] == "image" and image["format"] == "webp"
    assert image["url"] != uploaded["accessUrl"]
    got = http.get(image["url"])
    assert got.content == payload and got.headers["content-type"] == "image/webp"


def test_demo_echo_accepts_a_data_uri_and_refuses_foreign_urls(emu: Emulator, http: httpx.Client) -> None:
    payload = b"\x89PNG fake bytes"
    uri = "data:image/png;base64," + base64.b64encode(payload).decode()
    ok = submit(http, emu, "demo-echo", {"image": uri})
    foreign = submit(http, emu, "demo-echo", {"image": "https://example.com/x.png"})
    missing = submit(http, emu, "demo-echo", {})
    for task_id in (ok, foreign, missing):
        wait_done(http, emu, task_id)
    url = result(http, emu, ok)["data"]["result"]["images"]["url"]
    assert http.get(url).content == payload
    assert "not a file of this emulator" in result(http, emu, foreign)["subErrMessage"]
    assert "Missing required input 'image'" in result(http, emu, missing)["subErrMessage"]


def test_output_size_generates_large_deterministic_outputs(emu: Emulator, http: httpx.Client) -> None:
    size = 5 * 1024 * 1024 + 3
    emu.configure("demo-txt2img", output_size=size)
    task_id = submit(http, emu, "demo-txt2img", {"prompt": "x"})
    wait_done(http, emu, task_id)
    url = result(http, emu, task_id)["data"]["result"]["images"]["url"]
    first = http.get(url)
    assert int(first.headers["content-length"]) == size == len(first.content)
    assert http.get(url).content == first.content


def test_a_workflow_can_store_files_and_read_inputs(emu: Emulator, http: httpx.Client) -> None:
    def flow(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
        text = ctx.read_input(inputs["doc"]).upper()
        return {
            "doc": {"url": ctx.store_file(text, content_type="text/plain", filename="up.txt"), "type": "file"},
            "blob": {
                "url": ctx.store_generated(1000, content_type="application/octet-stream", filename="b"),
                "type": "file",
            },
            "count": len(text),
        }

    emu.register("files", flow, duration=0)
    task_id = submit(http, emu, "files", {"doc": "data:text/plain,hello%20world"})
    wait_done(http, emu, task_id)
    data = result(http, emu, task_id)["data"]
    assert data["result"]["count"] == 11
    assert http.get(data["result"]["doc"]["url"]).content == b"HELLO WORLD"
    assert len(http.get(data["result"]["blob"]["url"]).content) == 1000
    assert data["images"] == [data["result"]["doc"]["url"], data["result"]["blob"]["url"]]
