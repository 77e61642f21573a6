"""Hostile output downloads: every failure typed, nothing half-written (issue 12,
cases 3, 4, 6 and 7).

Each output is a real ``FileOutput`` from ``client.run()`` whose URL points at a
hostile server; each case is tried through ``save()``, ``read()`` and chunk iteration,
sync and async.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

import speedpix
from speedpix import FileTransferError, InvalidInputError

from ._server import HostileServer, Reply, Request
from .conftest import MODES, PNG, call, collect, output_node, tree

pytestmark = pytest.mark.timeout(30)

WAYS = ["save", "read", "iter"]


def _fetch(way: str, mode: str, output: Any, folder: Path) -> Any:
    if way == "save":
        return call(mode, output, "save", folder)
    if way == "read":
        return call(mode, output, "read")
    return collect(mode, output)


def _nothing_written(folder: Path) -> None:
    assert tree(folder) == set(), "no file and no .part file may be left"


# ---------------------------------------------------------------- case 6: 2xx that is not 200


@pytest.mark.parametrize("status", [201, 203, 204, 206])
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("mode", MODES)
def test_a_2xx_other_than_200_is_a_typed_error(
    status: int, way: str, mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    body = b"" if status == 204 else PNG[:10]
    server.route("/out.png", Reply(status, [("content-type", "image/png")], body))
    node = output_node(client, server.url("/out.png"))
    with pytest.raises(FileTransferError) as caught:
        _fetch(way, mode, node["url"], tmp_path)
    assert caught.value.status_code == status
    assert f"HTTP {status}" in str(caught.value) and "200" in str(caught.value)
    assert caught.value.task_id  # the task that produced the output is named
    _nothing_written(tmp_path)


# ---------------------------------------------------------------- case 3: broken Content-Encoding


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("mode", MODES)
def test_a_broken_content_encoding_is_a_typed_error(
    way: str, mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    broken = gzip.compress(PNG * 64)[:200] + b"\x00garbage" * 100  # a gzip stream that goes wrong
    server.route("/out.png", Reply(200, [("content-encoding", "gzip")], broken))
    node = output_node(client, server.url("/out.png"))
    with pytest.raises(FileTransferError, match="Content-Encoding"):
        _fetch(way, mode, node["url"], tmp_path)
    _nothing_written(tmp_path)


@pytest.mark.parametrize("mode", MODES)
def test_a_content_encoding_not_asked_for_is_refused(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    # The SDK asks for identity: a compressed reply, even a valid one, is refused rather
    # than inflated (a small gzip body can inflate to gigabytes) or saved still compressed.
    server.route("/out.png", Reply(200, [("content-encoding", "gzip")], gzip.compress(PNG)))
    node = output_node(client, server.url("/out.png"))
    with pytest.raises(FileTransferError, match="compressed") as caught:
        call(mode, node, "save", tmp_path)
    assert caught.value.status_code is None or caught.value.status_code == 200
    assert server.requests[-1].headers.get("accept-encoding") == "identity"
    _nothing_written(tmp_path)


# ---------------------------------------------------------------- case 3: redirect loops; case 7


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_loop_ends_in_a_typed_error(
    way: str, mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    server.route("/loop.png", Reply(302, [("location", "/loop.png?Signature=SECRET")]))
    node = output_node(client, server.url("/loop.png?Signature=FIRST"))
    with pytest.raises(FileTransferError, match="redirected more than 10 times") as caught:
        _fetch(way, mode, node["url"], tmp_path)
    assert "SECRET" not in str(caught.value) and "FIRST" not in str(caught.value)
    assert server.paths().count("/loop.png") == 11  # the first request and ten redirects, no retries
    _nothing_written(tmp_path)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("mode", MODES)
def test_same_scheme_redirects_are_followed(
    status: int, way: str, mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    server.route("/a", Reply(status, [("location", "/b")]))
    server.route("/b", Reply(status, [("location", server.url("/file.png"))]))
    server.route("/file.png", Reply(200, [("content-type", "image/png")], PNG))
    node = output_node(client, server.url("/a"))
    got = _fetch(way, mode, node["url"], tmp_path)
    assert (got.read_bytes() if way == "save" else got) == PNG
    assert server.paths() == ["/a", "/b", "/file.png"]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("mode", MODES)
def test_https_to_https_redirects_are_followed(
    way: str, mode: str, client: speedpix.Client, tls_server: HostileServer, tmp_path: Path
) -> None:
    tls_server.route("/a", Reply(302, [("location", "/file.png")]))
    tls_server.route("/file.png", Reply(200, body=PNG))
    node = output_node(client, tls_server.url("/a"))
    got = _fetch(way, mode, node["url"], tmp_path)
    assert (got.read_bytes() if way == "save" else got) == PNG


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("mode", MODES)
def test_an_https_to_http_redirect_is_refused(
    way: str,
    mode: str,
    client: speedpix.Client,
    tls_server: HostileServer,
    server: HostileServer,
    tmp_path: Path,
) -> None:
    plain = server.url("/file.png?Signature=PLAIN")
    tls_server.route("/a.png", Reply(302, [("location", plain)]))
    server.route("/file.png", Reply(200, body=PNG))
    node = output_node(client, tls_server.url("/a.png?Signature=TLS"))
    with pytest.raises(FileTransferError, match="HTTPS for plain HTTP") as caught:
        _fetch(way, mode, node["url"], tmp_path)
    message = str(caught.value)
    assert tls_server.url("/a.png") in message and server.url("/file.png") in message  # both URLs named
    assert "Signature" not in message  # never their presigned queries
    assert server.requests == []  # the plain-http URL was never fetched
    _nothing_written(tmp_path)


@pytest.mark.parametrize("location", ["", "http://[::1", "ftp://127.0.0.1/x.png"])
@pytest.mark.parametrize("mode", MODES)
def test_an_unusable_redirect_is_a_typed_error(
    location: str, mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    headers = [("location", location)] if location else []
    server.route("/a.png", Reply(302, headers))
    node = output_node(client, server.url("/a.png"))
    with pytest.raises(FileTransferError, match="redirected"):
        call(mode, node, "save", tmp_path)
    _nothing_written(tmp_path)


# ---------------------------------------------------------------- bodies that never end


@pytest.mark.parametrize("mode", MODES)
def test_an_endless_error_body_is_not_read(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    endless = (b"<Error>" + b"x" * 65536 for _ in range(100_000))  # 6.5 GB, if anyone read it
    server.route("/out.png", Reply(500, [("content-length", str(10**12))], endless))
    node = output_node(client.with_options(max_retries=0), server.url("/out.png"))
    with pytest.raises(FileTransferError) as caught:
        call(mode, node, "save", tmp_path)
    assert caught.value.status_code == 500
    _nothing_written(tmp_path)


@pytest.mark.parametrize("mode", MODES)
def test_a_storage_error_document_is_summarised(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    document = (
        b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired.</Message>"
        b"<HostId>h</HostId></Error>"
    )
    server.route("/out.png", Reply(403, [("content-type", "application/xml")], document))
    node = output_node(client, server.url("/out.png"))
    with pytest.raises(FileTransferError, match=r"HTTP 403\) \(AccessDenied: Request has expired\.\)"):
        call(mode, node, "read")


# ---------------------------------------------------------------- case 4: no .part left behind


@pytest.mark.parametrize("mode", MODES)
def test_a_reply_cut_short_leaves_no_part_file(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    server.route("/out.png", Reply(200, [("content-length", str(len(PNG) * 10))], [PNG]))
    node = output_node(client.with_options(max_retries=0), server.url("/out.png"))
    with pytest.raises(speedpix.APIConnectionError):
        call(mode, node, "save", tmp_path / "out.png")
    _nothing_written(tmp_path)


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_final_rename_leaves_no_part_file(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    target = tmp_path / "out.png"

    def reply(request: Request) -> Reply:
        target.mkdir()  # appears while the file downloads: the final rename must fail
        return Reply(200, body=PNG)

    server.route("/out.png", reply)
    node = output_node(client, server.url("/out.png"))
    with pytest.raises(FileTransferError, match="saving to") as caught:
        call(mode, node, "save", target)
    assert str(target) in str(caught.value)
    assert tree(tmp_path) == {"out.png"} and target.is_dir()  # the folder only: no .part file


# ---------------------------------------------------------------- case 3: save() onto folders and files


@pytest.mark.parametrize("mode", MODES)
def test_saving_onto_an_existing_folder_saves_inside_it(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    server.route("/o/result.png", Reply(200, body=PNG))
    node = output_node(client, server.url("/o/result.png"), filename="named.png")
    assert call(mode, node["url"], "save", tmp_path) == tmp_path / "result.png"
    assert call(mode, node, "save", tmp_path) == tmp_path / "named.png"
    new_folder = tmp_path / "new"
    assert call(mode, node, "save", f"{new_folder}/") == new_folder / "named.png"  # a trailing / means a folder
    assert (new_folder / "named.png").read_bytes() == PNG


@pytest.mark.parametrize("mode", MODES)
def test_saving_where_a_folder_has_the_name_is_refused_before_any_request(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    (tmp_path / "result.png").mkdir()
    server.route("/o/result.png", Reply(200, body=PNG))
    node = output_node(client, server.url("/o/result.png"))
    with pytest.raises(InvalidInputError, match="it is a folder"):
        call(mode, node["url"], "save", tmp_path)
    assert server.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_saving_under_a_file_is_refused_before_any_request(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    (tmp_path / "plain.txt").write_text("not a folder")
    server.route("/o/result.png", Reply(200, body=PNG))
    node = output_node(client, server.url("/o/result.png"))
    with pytest.raises(InvalidInputError, match="is a file, not a folder"):
        call(mode, node, "save", tmp_path / "plain.txt" / "deeper" / "x.png")
    with pytest.raises(InvalidInputError):
        call(mode, node, "save", tmp_path / "bad\x00name.png")
    with pytest.raises(InvalidInputError):
        call(mode, node, "save", 42)
    assert server.requests == []
    assert tree(tmp_path) == {"plain.txt"}


_FULL_DISK = """
import asyncio, resource, signal, sys
import speedpix
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
output = speedpix.FileOutput(sys.argv[1])
try:
    if sys.argv[3] == "sync":
        output.save(sys.argv[2])
    else:
        asyncio.run(output.async_save(sys.argv[2]))
except speedpix.FileTransferError as error:
    print(type(error).__name__, error)
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_write_that_fails_mid_download_is_typed_and_leaves_no_part_file(
    mode: str, server: HostileServer, tmp_path: Path
) -> None:
    """The file system refuses a write (here: a file size limit, as a full disk would)."""
    import subprocess
    import sys

    server.route("/big.bin", Reply(200, body=b"x" * (4 * 1024 * 1024)))
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, server.url("/big.bin"), str(tmp_path), mode],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("FileTransferError saving to ")
    assert str(tmp_path / "big.bin") in done.stdout
    _nothing_written(tmp_path)


@pytest.mark.parametrize(
    "url", ["http://[::1/x.png", "https://127.0.0.1:99999/x.png", "ftp://127.0.0.1/x.png?Signature=S", "https:///x.png"]
)
@pytest.mark.parametrize("mode", MODES)
def test_an_unusable_output_url_is_a_typed_error(mode: str, url: str, tmp_path: Path) -> None:
    output = speedpix.FileOutput(url)
    for way in WAYS:
        with pytest.raises(speedpix.SpeedPixException) as caught:
            _fetch(way, mode, output, tmp_path)
        assert "Signature" not in str(caught.value)
    _nothing_written(tmp_path)
