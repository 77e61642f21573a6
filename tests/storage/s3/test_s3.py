"""Outputs saved to S3 (issue 21 item 5): ``save()``/``async_save()`` and ``speedpix run
-o s3://…`` against moto's S3 server on loopback. Streamed in parts; a transfer that fails
leaves no object under the final name, no temporary one and no pending multipart upload."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import speedpix
from speedpix import InvalidInputError
from speedpix.testing import Emulator

from ...cli.conftest import command, emulator_env
from ...hostile._server import HostileServer, Reply
from ..conftest import MB, MODES, output_node, save
from .conftest import AWS_ENV, objects, pending_uploads, s3_client

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("mode", MODES)
def test_save_into_an_s3_folder_returns_the_url(
    mode: str, image: speedpix.FileNode, s3_endpoint: str, bucket: str
) -> None:
    options = {"endpoint_url": s3_endpoint}
    saved = save(mode, image, f"s3://{bucket}/out/", storage_options=options)
    assert saved == f"s3://{bucket}/out/{image.filename}" and isinstance(saved, str)
    renamed = save(mode, image["url"], f"s3://{bucket}/out/fox.png", storage_options=options)
    assert renamed == f"s3://{bucket}/out/fox.png"
    content = image.read()
    assert objects(s3_endpoint, bucket) == {f"out/{image.filename}": content, "out/fox.png": content}


def test_an_existing_prefix_is_a_folder(image: speedpix.FileNode, s3_endpoint: str, bucket: str) -> None:
    options = {"endpoint_url": s3_endpoint}
    image.save(f"s3://{bucket}/renders/first.png", storage_options=options)
    saved = image.save(f"s3://{bucket}/renders", storage_options=options)
    assert saved == f"s3://{bucket}/renders/{image.filename}"
    # A target that is itself a folder (a prefix) is refused, as locally.
    s3_client(s3_endpoint).put_object(Bucket=bucket, Key=f"taken/{image.filename}/inside", Body=b"")
    with pytest.raises(InvalidInputError, match="it is a folder"):
        image.save(f"s3://{bucket}/taken/", storage_options=options)
    assert set(objects(s3_endpoint, bucket)) == {
        "renders/first.png",
        f"renders/{image.filename}",
        f"taken/{image.filename}/inside",
    }


@pytest.mark.parametrize("mode", MODES)
def test_a_large_file_is_streamed_in_parts(
    mode: str, client: speedpix.Client, server: HostileServer, s3_endpoint: str, bucket: str
) -> None:
    body = bytes(range(256)) * (48 * 1024)  # 12 MB: three parts of 5 MB
    server.route(
        "/big.bin", Reply(200, [("content-type", "application/octet-stream")], [body[: 6 * MB], body[6 * MB :]])
    )
    node = output_node(client, server.url("/big.bin"))
    options = {"endpoint_url": s3_endpoint, "default_block_size": 5 * MB}
    assert save(mode, node, f"s3://{bucket}/big/", storage_options=options) == f"s3://{bucket}/big/big.bin"
    assert objects(s3_endpoint, bucket) == {"big/big.bin": body}
    assert pending_uploads(s3_endpoint, bucket) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_download_cut_midway_leaves_no_object(
    mode: str, client: speedpix.Client, server: HostileServer, s3_endpoint: str, bucket: str
) -> None:
    # 6 MB of a promised 20: more than one part is written before the connection ends.
    chunk = b"\x89PNG" + bytes(MB - 4)
    server.route("/cut.png", Reply(200, [("content-length", str(20 * MB))], [chunk] * 6))
    node = output_node(client, server.url("/cut.png"))
    options = {"endpoint_url": s3_endpoint, "default_block_size": 5 * MB}
    with pytest.raises(speedpix.APIConnectionError):  # the connection ended early
        save(mode, node, f"s3://{bucket}/out/", storage_options=options)
    assert len(server.requests) == 2  # tried twice (max_retries=1), each time cut
    assert objects(s3_endpoint, bucket) == {}  # neither out/cut.png nor a .part object
    assert pending_uploads(s3_endpoint, bucket) == []


def test_an_environment_variable_configures_s3fs(emu: Emulator, s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    # speedpix run -o s3://…: the endpoint from fsspec's environment configuration.
    env = emulator_env(emu, FSSPEC_S3_ENDPOINT_URL=s3_endpoint, **AWS_ENV)
    args = ["run", "demo-txt2img", "-i", "prompt=a fox", "-q", "--json", "-o", f"s3://{bucket}/run/"]
    done = subprocess.run(command(*args), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)["files"]
    assert files and all(url.startswith(f"s3://{bucket}/run/images") for url in files)
    stored = objects(s3_endpoint, bucket)
    assert sorted(stored) == sorted(url.removeprefix(f"s3://{bucket}/") for url in files)
    assert all(key.endswith(".png") and content.startswith(b"\x89PNG") for key, content in stored.items())
    assert list(tmp_path.iterdir()) == []  # no local copy
