"""The string-to-sign and signature headers, against the gateway's documented layout."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import httpx
import pytest

from speedpix._core.signing import (
    STRING_TO_SIGN_EXTENSION,
    GatewaySigner,
    canonical_path,
    content_md5,
    http_date,
    signature_headers,
    string_to_sign,
)

JSON = "application/json; charset=utf-8"


def test_string_to_sign_layout_matches_the_gateway_documentation() -> None:
    text = string_to_sign(
        method="post",
        accept=JSON,
        content_md5="mZFLkyvTelC5g8XnyQrpOw==",
        content_type=JSON,
        date="Wed, 09 May 2018 13:30:29 GMT+00:00",
        signed_headers={
            "x-ca-timestamp": "1525872629000",
            "x-ca-key": "203753904",
            "x-ca-nonce": "c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44",
            "x-ca-signature-method": "HmacSHA256",
        },
        path="/scc/comfy_prompt",
    )
    assert text == (
        "POST\n"
        f"{JSON}\n"
        "mZFLkyvTelC5g8XnyQrpOw==\n"
        f"{JSON}\n"
        "Wed, 09 May 2018 13:30:29 GMT+00:00\n"
        "x-ca-key:203753904\n"
        "x-ca-nonce:c9f15cbf-f4ac-4a6c-b54d-f51abf4b5b44\n"
        "x-ca-signature-method:HmacSHA256\n"
        "x-ca-timestamp:1525872629000\n"
        "/scc/comfy_prompt"
    )


def test_empty_fields_still_take_their_line() -> None:
    text = string_to_sign(
        method="GET", accept="", content_md5="", content_type="", date="", signed_headers={}, path="/x"
    )
    assert text == "GET\n\n\n\n\n/x"


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", "/p"), ("b=2&a=1", "/p?a=1&b=2"), ("flag&a=1", "/p?a=1&flag"), ("a=", "/p?a")],
)
def test_query_is_sorted_and_bare_keys_stay_bare(query: str, expected: str) -> None:
    assert canonical_path("/p", query) == expected


def test_content_md5_is_base64_of_md5() -> None:
    assert content_md5(b"{}") == base64.b64encode(hashlib.md5(b"{}").digest()).decode()


def test_http_date_has_the_sdk_form() -> None:
    assert http_date(1525872629) == "Wed, 09 May 2018 13:30:29 GMT+00:00"


def test_signature_is_hmac_sha256_of_the_string_to_sign() -> None:
    body = '{"taskId":"t-1","prompt":"山水画"}'.encode()
    headers, to_sign = signature_headers(
        app_key="key",
        app_secret="secret",
        method="POST",
        url_path="/scc/comfy_get_progress",
        url_query="",
        body=body,
        now=1700000000.123,
        nonce="fixed-nonce",
    )
    expected = base64.b64encode(hmac.new(b"secret", to_sign.encode(), hashlib.sha256).digest()).decode()
    assert headers["x-ca-signature"] == expected
    assert headers["x-ca-timestamp"] == "1700000000123"
    assert headers["x-ca-nonce"] == "fixed-nonce"
    assert headers["content-md5"] == content_md5(body)
    assert headers["x-ca-signature-headers"] == "x-ca-timestamp,x-ca-key,x-ca-nonce,x-ca-signature-method"
    assert headers["accept"] == JSON and headers["content-type"] == JSON
    assert "secret" not in to_sign


def test_no_body_means_no_content_md5() -> None:
    headers, to_sign = signature_headers(
        app_key="k", app_secret="s", method="POST", url_path="/x", url_query="", body=b""
    )
    assert "content-md5" not in headers
    assert to_sign.split("\n")[2] == ""


def test_each_signature_gets_a_fresh_nonce() -> None:
    nonces = {
        signature_headers(app_key="k", app_secret="s", method="POST", url_path="/x", url_query="", body=b"1")[0][
            "x-ca-nonce"
        ]
        for _ in range(50)
    }
    assert len(nonces) == 50
    assert all(uuid.UUID(n).version == 4 for n in nonces)


def test_signer_signs_the_exact_bytes_sent_and_replaces_accept() -> None:
    signer = GatewaySigner("key", "s3cr3t-value")
    request = httpx.Request(
        "POST", "https://example.invalid/scc/comfy_prompt", json={"a": "é"}, headers={"Accept": "*/*"}
    )
    signed = next(signer.auth_flow(request))
    assert signed.headers["accept"] == JSON
    assert signed.headers["content-md5"] == content_md5(request.content)
    to_sign = signed.extensions[STRING_TO_SIGN_EXTENSION]
    expected = base64.b64encode(hmac.new(b"s3cr3t-value", to_sign.encode(), hashlib.sha256).digest()).decode()
    assert signed.headers["x-ca-signature"] == expected
    assert "s3cr3t-value" not in repr(signer)
