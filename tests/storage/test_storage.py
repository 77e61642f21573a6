"""Outputs saved straight to object storage (issue 21 item 5): ``save()``/``async_save()``
and ``speedpix run -o`` with an fsspec URL, here fsspec's ``memory://`` (``s3/``: a real
S3-compatible server). Streamed; atomic: a transfer that fails leaves no object under the
final name and no temporary one; what cannot work is refused before any download."""

from __future__ import annotations

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
from .conftest import MB, MODES, output_node, save

pytestmark = pytest.mark.timeout(60)


def memory() -> Any:
    import fsspec

    return fsspec.filesystem("memory")


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


def test_run_refuses_a_storage_url_it_cannot_use_before_submitting(emu: Emulator, tmp_path: Path) -> None:
    submitted = len(emu.tasks)
    args = ["run", "demo-txt2img", "-i", "prompt=a fox", "-q", "-o", "oss://bucket/run/"]
    env = emulator_env(emu)
    done = subprocess.run(command(*args), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "pip install ossfs" in done.stderr, done.stderr
    assert len(emu.tasks) == submitted  # no task was submitted


def test_a_missing_implementation_names_the_package(
    client: speedpix.Client, server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ossfs", None)  # not installed, even where it is
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
    urls = [str(saved.path) for saved in save_outputs_to_storage(output, f"memory:/{folder}", prefix="job-")]
    local = [Path(saved.path) for saved in save_outputs(output, tmp_path, prefix="job-")]
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
