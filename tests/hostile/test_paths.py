"""Names from outside never reach outside the caller's folder (issue 12, case 1).

An output URL's last segment and a result's ``filename`` are chosen by whoever serves
them. ``save(DIR)``, ``save()`` and the CLI's ``-o`` must write inside the folder given,
whatever they decode to: ``../../x.png``, ``/tmp/x.png``, ``..``, a NUL.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import speedpix
from speedpix._apps.saving import save_outputs
from speedpix._core.names import MAX_NAME_BYTES, first_safe_name, safe_name, url_name

from ._server import HostileServer, Reply
from .conftest import MODES, PNG, call, output_node, tree

pytestmark = pytest.mark.timeout(30)


def _layout(tmp_path: Path) -> tuple[Path, Path]:
    """``outer/a/b/dir``: DIR, deep enough for ``../..`` to land inside ``outer``."""
    outer = tmp_path / "outer"
    target = outer / "a" / "b" / "dir"
    target.mkdir(parents=True)
    return outer, target


def _hostile_targets(unique: str) -> dict[str, str]:
    return {
        "dot-dot-slash": f"/x/..%2F..%2F{unique}.png",
        "absolute": f"/x/%2Ftmp%2F{unique}.png",
        "backslash": f"/x/..%5C..%5C{unique}.png",
        "dot-dot-encoded": "/x/%2E%2E",
        "nul": f"/x/{unique}%00.png",
    }


@pytest.mark.parametrize("case", list(_hostile_targets("u")))
@pytest.mark.parametrize("mode", MODES)
def test_save_into_a_folder_stays_inside_it(
    case: str, mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    unique = f"speedpix-hostile-{uuid.uuid4().hex}"
    target = _hostile_targets(unique)[case]
    server.route(target, Reply(200, [("content-type", "image/png")], PNG))
    if case == "dot-dot-encoded":
        # aiohttp's URL parser (yarl) resolves the dot segments before sending: /x/%2E%2E
        # is requested as /. What is checked here is the name saved under, taken from
        # the URL as the service gave it.
        server.route("/", Reply(200, [("content-type", "image/png")], PNG))
    outer, folder = _layout(tmp_path)
    escaped = Path("/tmp") / f"{unique}.png"
    try:
        node = output_node(client, server.url(target))
        saved = call(mode, node["url"], "save", folder)
        again = call(mode, node, "save", folder)
    finally:
        existed = escaped.exists()
        escaped.unlink(missing_ok=True)
    assert not existed
    assert saved.parent == folder and again.parent == folder
    assert saved.read_bytes() == PNG
    assert tree(outer) == {"a", "a/b", "a/b/dir"} | {f"a/b/dir/{p.name}" for p in (saved, again)}
    assert saved.name not in (".", "..", "") and "/" not in saved.name


@pytest.mark.parametrize("mode", MODES)
def test_save_with_no_path_stays_in_the_current_folder(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = "/x/..%2F..%2Fup.png"
    server.route(target, Reply(200, body=PNG))
    outer, folder = _layout(tmp_path)
    monkeypatch.chdir(folder)
    node = output_node(client, server.url(target), filename="../../node.png")
    from_url = call(mode, node["url"], "save")
    from_node = call(mode, node, "save")
    assert (folder / from_url).read_bytes() == PNG and (folder / from_node).read_bytes() == PNG
    assert str(from_url) == "up.png" and str(from_node) == "node.png"
    assert tree(outer) == {"a", "a/b", "a/b/dir", "a/b/dir/up.png", "a/b/dir/node.png"}


@pytest.mark.parametrize("filename", ["..", ".", "", "/", "../..", "a/../..", "\x00", " .. "])
@pytest.mark.parametrize("mode", MODES)
def test_a_node_filename_that_names_no_file_falls_back_to_the_url(
    filename: str,
    mode: str,
    client: speedpix.Client,
    server: HostileServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.route("/files/result.png", Reply(200, body=PNG))
    outer, folder = _layout(tmp_path)
    node = output_node(client, server.url("/files/result.png"), filename=filename)
    saved = call(mode, node, "save", folder)
    assert saved == folder / "result.png"
    assert saved.read_bytes() == PNG
    saved.unlink()
    monkeypatch.chdir(folder)
    assert call(mode, node, "save") == Path("result.png")
    assert tree(outer) == {"a", "a/b", "a/b/dir", "a/b/dir/result.png"}


@pytest.mark.parametrize("mode", MODES)
def test_a_node_filename_with_folders_keeps_only_its_last_part(
    mode: str, client: speedpix.Client, server: HostileServer, tmp_path: Path
) -> None:
    unique = f"speedpix-hostile-{uuid.uuid4().hex}"
    server.route("/files/result.png", Reply(200, body=PNG))
    outer, folder = _layout(tmp_path)
    node = output_node(client, server.url("/files/result.png"), filename=f"/tmp/{unique}.png")
    saved = call(mode, node, "save", folder)
    assert saved == folder / f"{unique}.png"
    assert not (Path("/tmp") / f"{unique}.png").exists()
    assert tree(outer) == {"a", "a/b", "a/b/dir", f"a/b/dir/{unique}.png"}


def test_the_cli_rule_is_the_same_rule(client: speedpix.Client, server: HostileServer, tmp_path: Path) -> None:
    """``-o`` names files by output key: a hostile key is made safe by the same rule."""
    server.route("/x/..%2F..%2Fk.png", Reply(200, [("content-type", "image/png")], PNG))
    outer, folder = _layout(tmp_path)
    url = server.url("/x/..%2F..%2Fk.png")
    output = client.run("echo-node", {"node": {"../..": {"url": url}, "..": [url]}}, polling_interval=0.005)["images"]
    saved = [Path(file.path) for file in save_outputs(output, folder)]
    assert [path.parent for path in saved] == [folder, folder]
    assert tree(outer) == {"a", "a/b", "a/b/dir"} | {f"a/b/dir/{path.name}" for path in saved}


# ---------------------------------------------------------------- the rule itself


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("x.png", "x.png"),
        ("../../x.png", "x.png"),
        ("/tmp/x.png", "x.png"),
        ("..\\..\\x.png", "x.png"),
        ("..", ""),
        (".", ""),
        ("", ""),
        ("a\x00b.png", ""),
        ("line\nbreak.png", "line_break.png"),
        (".hidden", "hidden"),
        ("CON.txt", "_CON.txt"),
        ("图片.png", "图片.png"),
    ],
)
def test_safe_name(text: str, name: str) -> None:
    assert safe_name(text) == name


def test_url_names_are_decoded_then_cut_to_their_last_segment() -> None:
    assert url_name("https://h/o/..%2F..%2Fx.png?Signature=s") == "x.png"
    assert url_name("https://h/o/%2Ftmp%2Fx.png") == "x.png"
    assert url_name("https://h/o/%2E%2E") == ""
    assert first_safe_name(url_name("https://h/"), "..") == "output"


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = safe_name("图" * 300 + ".png")
    assert name.endswith(".png") and len(name.encode()) <= MAX_NAME_BYTES


@given(st.text())
def test_safe_name_is_always_one_plain_name(text: str) -> None:
    name = safe_name(text)
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in (".", "..")
    assert not name.startswith(".")
    assert len(name.encode()) <= MAX_NAME_BYTES
    if name:
        assert os.path.basename(name) == name
