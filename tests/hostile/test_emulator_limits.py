"""The emulator refuses what a storage service and a gateway refuse (issue 12, case 9).

An upload larger than the size its URL was signed for used to be stored whole (300 MB
for a declared 10); a 200 MB header was read into the hosting process's memory. Both
are tried here over raw loopback connections, as a misbehaving client would send them.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from speedpix._core.signing import signature_headers
from speedpix.testing import Emulator
from speedpix.testing._server import MAX_HEAD_BYTES

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _sign(emu: Emulator, http: httpx.Client, **body: Any) -> dict[str, Any]:
    payload = json.dumps({"originalFilename": "in.bin", "contentType": "application/octet-stream", **body}).encode()
    path = "/scc/sp_create_temp_file_upload_sign"
    headers, _ = signature_headers(
        app_key=emu.app_key, app_secret=emu.app_secret, method="POST", url_path=path, url_query="", body=payload
    )
    reply = http.post(emu.endpoint + path, content=payload, headers=headers)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


def _put(http: httpx.Client, url: str, content: Any) -> httpx.Response:
    return http.put(url, content=content, headers={"content-type": "application/octet-stream"})


def test_an_upload_larger_than_signed_is_refused_before_it_is_read(emu: Emulator, http: httpx.Client) -> None:
    data = _sign(emu, http, size=10)
    refused = _put(http, data["uploadUrl"], b"x" * 11)
    assert refused.status_code == 400
    assert b"<Code>EntityTooLarge</Code>" in refused.content
    assert http.get(data["accessUrl"]).status_code == 404  # nothing stored
    assert _put(http, data["uploadUrl"], b"y" * 10).status_code == 200
    assert http.get(data["accessUrl"]).content == b"y" * 10


def test_an_endless_streamed_upload_is_cut_off_at_the_signed_size(emu: Emulator, http: httpx.Client) -> None:
    data = _sign(emu, http, size=1024)
    sent = 0

    def endless() -> Iterator[bytes]:  # no Content-Length: chunked, 300 MB if read to the end
        nonlocal sent
        for _ in range(300 * 16):
            sent += 65536
            yield b"z" * 65536

    try:
        status: int | None = _put(http, data["uploadUrl"], endless()).status_code
    except httpx.TransportError:  # the server closed the connection while we were still sending
        status = None
    assert status in (400, None)
    assert sent < 64 * 1024 * 1024, f"the emulator read {sent} bytes of a 1 KiB upload"
    assert http.get(data["accessUrl"]).status_code == 404


def test_the_signed_size_cannot_be_changed(emu: Emulator, http: httpx.Client) -> None:
    data = _sign(emu, http, size=10)
    assert "MaxSize=10&" in data["uploadUrl"]
    tampered = data["uploadUrl"].replace("MaxSize=10&", "MaxSize=100000&")
    refused = _put(http, tampered, b"x" * 11)
    assert refused.status_code == 403 and b"SignatureDoesNotMatch" in refused.content


def test_an_upload_signed_without_a_size_takes_up_to_the_storage_limit(emu: Emulator, http: httpx.Client) -> None:
    data = _sign(emu, http)
    assert "MaxSize=5368709120&" in data["uploadUrl"]
    assert _put(http, data["uploadUrl"], b"x" * 300_000).status_code == 200


def test_a_head_over_the_limit_is_answered_431(emu: Emulator, http: httpx.Client) -> None:
    big = http.get(emu.endpoint + "/storage/files/x", headers={"x-big": "a" * (MAX_HEAD_BYTES + 1)})
    assert big.status_code == 431
    fine = http.get(emu.endpoint + "/storage/files/x", headers={"x-big": "a" * (MAX_HEAD_BYTES - 1024)})
    assert fine.status_code == 403  # handled as usual: the URL is not signed


def test_an_endless_head_is_cut_off(emu: Emulator) -> None:
    sent = 0
    with socket.create_connection(("127.0.0.1", emu.port)) as sock:
        sock.sendall(b"GET /storage/files/x HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Filler: " + b"f" * 65000 + b"\r\n"
        with pytest.raises(OSError):  # the server closed the connection: sending fails
            while sent < 200 * 1024 * 1024:
                sock.sendall(line)
                sent += len(line)
    # What loopback socket buffers hold is all that went out, not 200 MB.
    assert sent < 32 * 1024 * 1024, sent


def test_heads_on_a_kept_alive_connection_are_counted_afresh(emu: Emulator, http: httpx.Client) -> None:
    """Many requests on one connection, each with a head close to the limit: none is
    refused (the count starts again with each request)."""
    header = {"x-big": "a" * (MAX_HEAD_BYTES // 2)}
    statuses = {http.get(emu.endpoint + "/storage/files/x", headers=header).status_code for _ in range(10)}
    assert statuses == {403}
