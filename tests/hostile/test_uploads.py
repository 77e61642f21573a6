"""Hostile upload replies (issue 12, case 3, upload side; case 7 for PUTs).

A hostile gateway signs uploads to a hostile storage URL, whose PUT replies each test
scripts: redirects (a 307 used to raise httpx.StreamConsumed), loops, odd statuses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import speedpix
from speedpix import FileTransferError, InvalidInputError

from ._server import HostileServer, Reply, envelope
from .conftest import FAST, MODES, PNG, call

pytestmark = pytest.mark.timeout(30)

SIGN = "/scc/sp_create_temp_file_upload_sign"


@pytest.fixture
def gateway(server: HostileServer, ca_file: str) -> Iterator[speedpix.Client]:
    with speedpix.Client("hostile-key", "hostile-secret", endpoint=server.origin, verify=ca_file, **FAST) as c:
        yield c


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    path.write_bytes(PNG * 64)
    return path


def _sign_to(server: HostileServer, upload_url: str) -> None:
    server.route(SIGN, envelope({"uploadUrl": upload_url, "accessUrl": server.url("/access/in.png")}))


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("mode", MODES)
def test_an_upload_redirect_that_keeps_the_method_is_followed_with_the_whole_body(
    status: int, mode: str, gateway: speedpix.Client, server: HostileServer, png: Path
) -> None:
    _sign_to(server, server.url("/upload/in.png?Signature=S"))
    server.route("/upload/in.png", Reply(status, [("location", "/stored/in.png")]))
    server.route("/stored/in.png", Reply(200))
    file = call(mode, gateway.files, "create", png)
    assert file.url == server.url("/access/in.png")
    puts = [r for r in server.requests if r.method == "PUT"]
    assert [r.path for r in puts] == ["/upload/in.png", "/stored/in.png"]
    assert puts[1].body == png.read_bytes()  # sent again from its first byte
    assert puts[1].headers["content-type"] == "image/png"


@pytest.mark.parametrize("mode", MODES)
def test_an_upload_redirect_loop_is_a_typed_error(
    mode: str, gateway: speedpix.Client, server: HostileServer, png: Path
) -> None:
    _sign_to(server, server.url("/upload/in.png?Signature=SECRET"))
    server.route("/upload/in.png", Reply(307, [("location", "/upload/in.png?Signature=SECRET")]))
    with pytest.raises(FileTransferError, match="redirected more than 10 times") as caught:
        call(mode, gateway.files, "create", png)
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize("status", [301, 302, 303])
@pytest.mark.parametrize("mode", MODES)
def test_an_upload_redirect_that_would_drop_the_body_is_not_followed(
    status: int, mode: str, gateway: speedpix.Client, server: HostileServer, png: Path
) -> None:
    _sign_to(server, server.url("/upload/in.png"))
    server.route("/upload/in.png", Reply(status, [("location", "/elsewhere")]))
    with pytest.raises(FileTransferError, match=f"redirect \\(HTTP {status}\\)"):
        call(mode, gateway.files, "create", png)
    assert "/elsewhere" not in server.paths()


@pytest.mark.parametrize("mode", MODES)
def test_an_https_upload_redirected_to_http_is_refused(
    mode: str, gateway: speedpix.Client, server: HostileServer, tls_server: HostileServer, png: Path
) -> None:
    _sign_to(server, tls_server.url("/upload/in.png?Signature=S"))
    tls_server.route("/upload/in.png", Reply(307, [("location", server.url("/plain/in.png"))]))
    with pytest.raises(FileTransferError, match="HTTPS for plain HTTP"):
        call(mode, gateway.files, "create", png)
    assert "/plain/in.png" not in server.paths()


@pytest.mark.parametrize(("status", "ok"), [(200, True), (201, True), (204, True), (202, False), (206, False)])
@pytest.mark.parametrize("mode", MODES)
def test_what_completes_an_upload(
    status: int, ok: bool, mode: str, gateway: speedpix.Client, server: HostileServer, png: Path
) -> None:
    _sign_to(server, server.url("/upload/in.png"))
    server.route("/upload/in.png", Reply(status))
    if ok:
        assert call(mode, gateway.files, "create", png).size == png.stat().st_size
    else:
        with pytest.raises(FileTransferError, match=f"HTTP {status}"):
            call(mode, gateway.files, "create", png)


@pytest.mark.parametrize("mode", MODES)
def test_a_storage_refusal_says_why(mode: str, gateway: speedpix.Client, server: HostileServer, png: Path) -> None:
    _sign_to(server, server.url("/upload/in.png"))
    document = b"<Error><Code>EntityTooLarge</Code><Message>Your proposed upload is too big.</Message></Error>"
    server.route("/upload/in.png", Reply(400, [("content-type", "application/xml")], document))
    with pytest.raises(FileTransferError, match="EntityTooLarge: Your proposed upload is too big") as caught:
        call(mode, gateway.files, "create", png)
    assert caught.value.status_code == 400


@pytest.mark.parametrize("content_type", ["image/pñg", "image/png\r\nX-Evil: 1", "image/\x00png"])
@pytest.mark.parametrize("mode", MODES)
def test_an_upload_content_type_that_cannot_be_a_header_is_refused_before_any_request(
    content_type: str, mode: str, gateway: speedpix.Client, server: HostileServer, png: Path
) -> None:
    with pytest.raises(InvalidInputError, match="content_type"):
        call(mode, gateway.files, "create", png, content_type=content_type)
    assert server.requests == []  # not even the upload-sign call


@pytest.mark.parametrize("mode", MODES)
def test_an_upload_whose_reply_trickles_ends_at_the_calls_timeout(
    mode: str, gateway: speedpix.Client, server: HostileServer, png: Path
) -> None:
    # timeout= bounds the whole call, the upload included: a storage server that answers
    # one byte every 0.5 s (each read well within the per-read timeout) cannot hold it.
    _sign_to(server, server.url("/upload/in.png?Signature=S"))
    server.route("/upload/in.png", Reply(200, [("content-length", "60")], [b"x"] * 60, delay=0.5))
    started = time.monotonic()
    with pytest.raises(speedpix.APITimeoutError, match="timed out"):
        call(mode, gateway.with_options(max_retries=0).files, "create", png, timeout=2)
    assert time.monotonic() - started < 3.5
