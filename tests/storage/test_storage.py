"""Outputs saved straight to object storage (issue 21 item 5): ``save()``/``async_save()``
and ``speedpix run -o`` with an fsspec URL, against a real S3-compatible server on
loopback (moto) and fsspec's ``memory://``. Streamed; atomic: a transfer that fails
leaves no object under the final name and no temporary one."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

import speedpix
from speedpix import ConfigurationError, InvalidInputError
from speedpix.testing import Emulator

from ..cli.conftest import command, emulator_env
from ..hostile._server import HostileServer, Reply
from .conftest import AWS_ENV, objects, output_node, pending_uploads, s3_client

pytestmark = pytest.mark.timeout(60)

MODES = ["sync", "async"]
MB = 1024 * 1024


def save(mode: str, output: Any, target: str, **options: Any) -> Any:
    if mode == "sync":
        return output.save(target, **options)
    return asyncio.run(output.async_save(target, **options))


def memory() -> Any:
    import fsspec

    return fsspec.filesystem("memory")


@pytest.fixture
def image(client: speedpix.Client) -> speedpix.FileNode:
    node = client.run("demo-txt2img", {"prompt": "a red fox"}, polling_interval=0.005)["images"]
    assert isinstance(node, speedpix.FileNode)
    return node


# ---------------------------------------------------------------- S3 (moto)


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


def test_run_refuses_a_storage_url_it_cannot_use_before_submitting(emu: Emulator, tmp_path: Path) -> None:
    if importlib.util.find_spec("ossfs") is not None:
        pytest.skip("ossfs is installed")
    submitted = len(emu.tasks)
    args = ["run", "demo-txt2img", "-i", "prompt=a fox", "-q", "-o", "oss://bucket/run/"]
    env = emulator_env(emu)
    done = subprocess.run(command(*args), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "pip install ossfs" in done.stderr, done.stderr
    assert len(emu.tasks) == submitted  # no task was submitted


# ---------------------------------------------------------------- memory://


@pytest.mark.parametrize("mode", MODES)
def test_save_to_memory(mode: str, image: speedpix.FileNode) -> None:
    folder = f"/t-{uuid.uuid4().hex[:8]}"
    saved = save(mode, image, f"memory:/{folder}/")
    assert saved == f"memory://{folder}/{image.filename}"
    assert memory().cat(f"{folder}/{image.filename}") == image.read()
    assert memory().ls(folder, detail=False) == [f"{folder}/{image.filename}"]


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_download_to_memory_leaves_nothing(mode: str, client: speedpix.Client, server: HostileServer) -> None:
    server.route("/cut.png", Reply(200, [("content-length", str(4 * MB))], [bytes(MB), bytes(MB)]))
    node = output_node(client, server.url("/cut.png"))
    folder = f"/t-{uuid.uuid4().hex[:8]}"
    with pytest.raises(speedpix.APIConnectionError):
        save(mode, node, f"memory:/{folder}/")
    assert not memory().exists(folder) or memory().ls(folder) == []


# ---------------------------------------------------------------- refusals, before any download


def test_a_missing_implementation_names_the_package(client: speedpix.Client, server: HostileServer) -> None:
    if importlib.util.find_spec("ossfs") is not None:
        pytest.skip("ossfs is installed")
    node = output_node(client, server.url("/out.png"))
    for mode in MODES:
        with pytest.raises(ConfigurationError, match="pip install ossfs"):
            save(mode, node, "oss://bucket/prefix/")
    with pytest.raises(ConfigurationError, match="nosuchscheme") as caught:
        node.save("nosuchscheme://user:s3cr3t@bucket/x.png?token=t0k3n")
    assert "s3cr3t" not in str(caught.value) and "t0k3n" not in str(caught.value)  # redacted
    assert server.requests == []  # nothing was downloaded


def test_without_fsspec_the_extra_is_named() -> None:
    code = """
        import sys
        sys.modules["fsspec"] = None  # as if not installed
        from speedpix import ConfigurationError, FileOutput
        try:
            FileOutput("http://127.0.0.1:9/x.png").save("s3://bucket/x.png")
        except ConfigurationError as error:
            print(error)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert "pip install 'speedpix[storage]'" in done.stdout, done.stderr


def test_storage_options_need_a_url(image: speedpix.FileNode, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="storage_options"):
        image.save(tmp_path, storage_options={"anon": True})
    assert list(tmp_path.iterdir()) == []
    assert isinstance(image.save(tmp_path), Path)  # local paths: as before


def test_run_output_names_match_a_local_folder(client: speedpix.Client, tmp_path: Path) -> None:
    from speedpix._apps.saving import save_outputs, save_outputs_to_storage

    node = client.run("demo-txt2img", {"prompt": "a fox"}, polling_interval=0.005)
    output = {"images": [node["images"], node["images"]], "mask": node["images"]["url"]}
    folder = f"/t-{uuid.uuid4().hex[:8]}"
    urls = save_outputs_to_storage(output, f"memory:/{folder}", prefix="job-")
    local = save_outputs(output, tmp_path, prefix="job-")
    assert [url.rsplit("/", 1)[1] for url in urls] == [path.name for path in local]
    assert [memory().cat(url) for url in urls] == [path.read_bytes() for path in local]
    assert sorted(memory().ls(folder, detail=False)) == sorted(f"{folder}/{path.name}" for path in local)


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("s3://bucket/x", True),
        ("oss://b/", True),
        ("memory://x", True),
        ("simplecache::s3://b/x", False),  # chained URLs are not taken for storage
        ("out/x.png", False),
        ("C://x.png", False),
        ("./s3:/x", False),
        (Path("s3://bucket/x"), False),
    ],
)
def test_what_is_a_storage_url(path: object, url: bool) -> None:
    from speedpix._flows.objectstore import is_storage_url

    assert is_storage_url(path) is url
