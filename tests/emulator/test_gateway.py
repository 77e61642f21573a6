"""The API gateway's checks: every refusal rule, over a real socket, plus the
string-to-sign builder on its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time

import httpx
import pytest

from speedpix.testing import Emulator
from speedpix.testing._gateway import NonceCache, server_string_to_sign, verify

from .conftest import post, sign

UUID_LIKE = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
BODY = {"originalFilename": "a.png", "contentType": "image/png"}
PATH = "/scc/sp_create_temp_file_upload_sign"


# -- the string-to-sign, as the gateway documents it -----------------------------------


def test_string_to_sign_follows_the_documented_layout() -> None:
    headers = {
        "accept": "application/json; charset=utf-8",
        "content-md5": "MD5==",
        "content-type": "application/json; charset=utf-8",
        "date": "Wed, 09 May 2018 13:30:29 GMT+00:00",
        "x-ca-timestamp": "1525872629832",
        "x-ca-key": "203753516",
        "x-ca-nonce": "c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44",
        "x-ca-signature-method": "HmacSHA256",
        "x-ca-signature": "ignored",
        "x-ca-signature-headers": "ignored",
    }
    names = ["x-ca-timestamp", "x-ca-key", "x-ca-nonce", "x-ca-signature-method"]
    assert server_string_to_sign("post", "/scc/comfy_prompt", "", headers, names) == (
        "POST\n"
        "application/json; charset=utf-8\n"
        "MD5==\n"
        "application/json; charset=utf-8\n"
        "Wed, 09 May 2018 13:30:29 GMT+00:00\n"
        "x-ca-key:203753516\n"
        "x-ca-nonce:c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44\n"
        "x-ca-signature-method:HmacSHA256\n"
        "x-ca-timestamp:1525872629832\n"
        "/scc/comfy_prompt"
    )


def test_string_to_sign_keeps_empty_lines_sorts_query_and_skips_content_headers() -> None:
    names = ["x-ca-key", "content-type", "accept", "x-ca-missing"]
    to_sign = server_string_to_sign("GET", "/p", "b=2&a=1&flag=", {"x-ca-key": "k"}, names)
    assert to_sign == "GET\n\n\n\n\nx-ca-key:k\nx-ca-missing:\n/p?a=1&b=2&flag"


def test_verify_burns_a_nonce_only_when_the_request_passes() -> None:
    nonces = NonceCache()
    headers = {
        "x-ca-key": "k",
        "x-ca-timestamp": "1000",
        "x-ca-nonce": "n1",
        "x-ca-signature-headers": "x-ca-key,x-ca-nonce,x-ca-timestamp",
        "x-ca-signature": "wrong",
    }
    args = {"method": "POST", "path": "/x", "query": "", "body": b"", "secrets": {"k": "s"}}
    refused = verify(headers=headers, now_ms=1000, nonces=nonces, **args)  # type: ignore[arg-type]
    assert refused is not None and refused.message.startswith("Invalid Signature")
    assert len(nonces) == 0
    to_sign = "POST\n\n\n\n\nx-ca-key:k\nx-ca-nonce:n1\nx-ca-timestamp:1000\n/x"
    digest = hmac.new(b"s", to_sign.encode(), hashlib.sha256).digest()
    headers["x-ca-signature"] = base64.b64encode(digest).decode()
    assert verify(headers=headers, now_ms=1000, nonces=nonces, **args) is None  # type: ignore[arg-type]
    again = verify(headers=headers, now_ms=1000, nonces=nonces, **args)  # type: ignore[arg-type]
    assert again is not None and again.message == "Nonce Used"
    # Fifteen minutes later the nonce is forgotten (and the timestamp too old).
    assert not nonces.seen("k", "n1", 1000 + 15 * 60 * 1000 + 1)


# -- over the wire ---------------------------------------------------------------------


def test_a_correctly_signed_request_gets_the_success_envelope(emu: Emulator, http: httpx.Client) -> None:
    response = post(http, emu, PATH, BODY)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    envelope = response.json()
    assert envelope["status"] == 10
    assert re.fullmatch(r"i_[0-9a-f]{24}", envelope["apiInvokeId"])
    for key in ("errCode", "errMessage", "subErrCode", "subErrMessage"):
        assert envelope[key] is None
    assert envelope["data"]["uploadUrl"].startswith(emu.endpoint)


def test_bad_signature_is_refused_with_the_servers_string_to_sign(emu: Emulator, http: httpx.Client) -> None:
    raw = json.dumps(BODY).encode()
    headers, client_to_sign = _signed(emu, raw, secret="not-the-secret")
    response = http.post(emu.endpoint + PATH, content=raw, headers=headers)
    assert response.status_code == 400
    assert response.content == b""
    message = response.headers["x-ca-error-message"]
    prefix = "Invalid Signature, Server StringToSign:"
    assert message.startswith(prefix)
    # Same headers, so the server's string equals the client's, newlines as '#'.
    assert message[len(prefix) :] == client_to_sign.replace("\n", "#")


def test_the_server_string_is_rebuilt_from_the_headers_received(emu: Emulator, http: httpx.Client) -> None:
    raw = json.dumps(BODY).encode()
    headers, client_to_sign = _signed(emu, raw)
    headers["accept"] = "*/*"  # what httpx would send by default: breaks the signature
    response = http.post(emu.endpoint + PATH, content=raw, headers=headers)
    assert response.status_code == 400
    server_to_sign = response.headers["x-ca-error-message"].split("StringToSign:", 1)[1]
    assert server_to_sign.split("#")[1] == "*/*"
    assert server_to_sign != client_to_sign.replace("\n", "#")


def test_the_query_string_is_signed_sorted(emu: Emulator, http: httpx.Client) -> None:
    raw = json.dumps(BODY).encode()
    headers = sign(emu, PATH, raw, query="z=1&a=2")
    assert http.post(emu.endpoint + PATH + "?z=1&a=2", content=raw, headers=headers).status_code == 200
    headers = sign(emu, PATH, raw, query="z=1&a=2")
    refused = http.post(emu.endpoint + PATH + "?z=1&a=3", content=raw, headers=headers)
    assert refused.status_code == 400
    assert refused.headers["x-ca-error-message"].endswith("#" + PATH + "?a=3&z=1")


def test_content_md5_mismatch_is_refused(emu: Emulator, http: httpx.Client) -> None:
    raw = json.dumps(BODY).encode()
    headers, _ = _signed(emu, raw)
    other = json.dumps({**BODY, "originalFilename": "b.png"}).encode()
    response = http.post(emu.endpoint + PATH, content=other, headers=headers)
    assert response.status_code == 400
    assert response.headers["x-ca-error-message"] == "Invalid Content-MD5"


def test_a_request_without_content_md5_is_accepted(emu: Emulator, http: httpx.Client) -> None:
    raw = json.dumps(BODY).encode()
    headers, to_sign = _signed(emu, b"")  # signed as if bodiless: no Content-MD5 at all
    assert "content-md5" not in headers and to_sign.split("\n")[2] == ""
    response = http.post(emu.endpoint + PATH, content=raw, headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == 10


@pytest.mark.parametrize("skew_minutes", [-16, 16])
def test_a_timestamp_outside_15_minutes_is_refused(emu: Emulator, http: httpx.Client, skew_minutes: int) -> None:
    response = post(http, emu, PATH, BODY, now=time.time() + skew_minutes * 60)
    assert response.status_code == 400
    assert response.headers["x-ca-error-message"] == "Invalid Timestamp"


@pytest.mark.parametrize("offset_minutes", [-16, 16])
def test_the_emulator_clock_offset_causes_skew_refusals(emu: Emulator, http: httpx.Client, offset_minutes: int) -> None:
    emu.clock_offset = offset_minutes * 60
    response = post(http, emu, PATH, BODY)
    assert response.status_code == 400
    assert response.headers["x-ca-error-message"] == "Invalid Timestamp"
    emu.clock_offset = offset_minutes / abs(offset_minutes) * 14 * 60  # inside the window
    assert post(http, emu, PATH, BODY).status_code == 200


def test_a_nonce_is_accepted_once(emu: Emulator, http: httpx.Client) -> None:
    assert post(http, emu, PATH, BODY, nonce="nonce-1").status_code == 200
    replay = post(http, emu, PATH, BODY, nonce="nonce-1")
    assert replay.status_code == 400
    assert replay.headers["x-ca-error-message"] == "Nonce Used"
    assert post(http, emu, PATH, BODY, nonce="nonce-2").status_code == 200


def test_a_refused_request_does_not_use_up_its_nonce(emu: Emulator, http: httpx.Client) -> None:
    bad = post(http, emu, PATH, BODY, nonce="nonce-x", secret="wrong")
    assert bad.status_code == 400
    assert post(http, emu, PATH, BODY, nonce="nonce-x").status_code == 200


def test_an_unknown_app_key_is_refused(emu: Emulator, http: httpx.Client) -> None:
    response = post(http, emu, PATH, BODY, app_key="someone-else")
    assert response.status_code == 403
    assert response.headers["x-ca-error-message"] == "Invalid AppKey"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("x-ca-key", "Empty AppKey"),
        ("x-ca-signature", "Empty Signature"),
        ("x-ca-timestamp", "Invalid Timestamp"),
        ("x-ca-nonce", "Invalid Nonce"),
    ],
)
def test_missing_signature_headers_are_refused_with_a_clear_message(
    emu: Emulator, http: httpx.Client, header: str, message: str
) -> None:
    raw = json.dumps(BODY).encode()
    headers, _ = _signed(emu, raw)
    del headers[header]
    response = http.post(emu.endpoint + PATH, content=raw, headers=headers)
    assert response.status_code == 400
    assert response.headers["x-ca-error-message"].startswith(message)


def test_an_unsigned_request_is_refused(emu: Emulator, http: httpx.Client) -> None:
    response = http.post(emu.endpoint + PATH, json=BODY)
    assert response.status_code == 400
    assert response.headers["x-ca-error-message"].startswith("Empty AppKey")
    assert emu.stats.requests_by_path[PATH] == 1


def test_unknown_paths_are_404_and_other_methods_405(emu: Emulator, http: httpx.Client) -> None:
    response = post(http, emu, "/scc/comfy_cancel", {"taskId": "x"})
    assert response.status_code == 404
    assert response.headers["x-ca-error-message"] == "Invalid Url"
    response = http.get(emu.endpoint + "/scc/comfy_prompt")
    assert response.status_code == 405
    assert response.headers["x-ca-error-message"] == "Unsupported Method `GET`"


def test_every_response_carries_a_unique_request_id(emu: Emulator, http: httpx.Client) -> None:
    responses = [
        post(http, emu, PATH, BODY),  # success
        post(http, emu, PATH, BODY, secret="wrong"),  # signature refusal
        post(http, emu, PATH, BODY, app_key="nobody"),  # unknown key
        post(http, emu, "/scc/comfy_get_result", {"taskId": "nope"}),  # application error
        post(http, emu, "/scc/comfy_prompt", b"not json"),  # malformed body
        http.get(emu.endpoint + "/nowhere"),
        http.get(emu.endpoint + "/storage/files/missing?Expires=1&Signature=x"),
    ]
    emu.inject("/scc/comfy_get_progress", "http_error")
    responses.append(post(http, emu, "/scc/comfy_get_progress", {"taskId": "x"}))
    ids = [response.headers["x-ca-request-id"] for response in responses]
    assert all(UUID_LIKE.match(request_id) for request_id in ids), ids
    assert len(set(ids)) == len(ids)
    assert [r.request_id for r in emu.requests] == ids


def _signed(emu: Emulator, raw: bytes, *, secret: str | None = None) -> tuple[dict[str, str], str]:
    from speedpix._core.signing import signature_headers

    return signature_headers(
        app_key=emu.app_key,
        app_secret=secret or emu.app_secret,
        method="POST",
        url_path=PATH,
        url_query="",
        body=raw,
    )
