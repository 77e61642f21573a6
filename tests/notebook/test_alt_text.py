"""Inline images carry their file name as alt text and title, wherever they are shown: a
standalone output, a result node, a gallery tile. Names come from the service (a node's
``filename``, the URL's path) and are hostile until escaped; the URL's query (the
presigned signature) never shows."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest

from speedpix import Client, FileNode, FileOutput
from speedpix._apps import notebook
from speedpix.testing import Emulator

from .conftest import gets, image_bytes, serve

HOSTILE = [
    '"><script>alert(1)</script>.png',
    "x' onerror='alert(1).png",
    'a "quoted" & <b>bold</b> name.png',
    "line\nbreak\t.png",
]


class _Elements(HTMLParser):
    """Every start tag with its attributes (decoded), and any text inside <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.tags


def the_img(html: str) -> dict[str, str | None]:
    images = [attrs for tag, attrs in elements(html) if tag == "img"]
    assert len(images) == 1, html[:300]
    return images[0]


def assert_safe(html: str) -> None:
    tags = {tag for tag, _ in elements(html)}
    assert "script" not in tags and "b" not in tags, tags
    for _, attrs in elements(html):
        assert not any(name.startswith("on") for name in attrs), attrs


def test_a_standalone_image_has_its_name_as_alt_and_title(emu: Emulator, client: Client) -> None:
    png = image_bytes("PNG")
    output = serve(emu, client, png, "sunset.png")
    assert isinstance(output, FileOutput)
    html = output._repr_html_()
    assert html is not None
    img = the_img(html)
    assert img["alt"] == img["title"] == output.filename and output.filename.endswith("sunset.png")
    assert base64.b64decode((img["src"] or "").split(",", 1)[1]) == png
    assert output._repr_png_() == png  # kept for frontends that do not render HTML
    assert len(gets(emu, output.url)) == 1  # both from one fetch
    query = output.url.split("?", 1)[1]
    assert query not in html and "Signature" not in html


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_node_filename_is_escaped(emu: Emulator, client: Client, name: str) -> None:
    png = image_bytes("PNG")
    node = serve(emu, client, png, "plain.png", node={"type": "image", "filename": name})
    assert isinstance(node, FileNode)
    html = node._repr_html_()
    assert html is not None
    assert_safe(html)
    img = the_img(html)
    assert img["alt"] == img["title"] == name  # escaped on the way in, the same name out
    assert set(img) == {"src", "alt", "title", "style"}
    assert node._repr_png_() == png


@pytest.fixture(scope="module")
def any_path_png() -> Iterator[str]:
    """A loopback server answering every GET with the same PNG (the emulator's storage
    makes its keys plain, so a hostile name cannot reach its URLs)."""
    png = image_bytes("PNG")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("name", ['"><img src=x onerror=alert(1)>.png', "it's & <ok>.png", "%3Cscript%3E.png"])
def test_a_hostile_name_in_the_url_path_is_escaped(any_path_png: str, name: str) -> None:
    output = FileOutput(f"{any_path_png}/out/{quote(name)}?Expires=1&Signature=s3cr3t")
    html = output._repr_html_()
    assert html is not None
    assert_safe(html)
    img = the_img(html)
    assert img["alt"] == img["title"] == name  # the path decoded once, as it was encoded
    assert "s3cr3t" not in html and "Signature" not in html
    assert output._repr_png_() == image_bytes("PNG")


def test_a_filename_that_repeats_the_signature_does_not_show_it(emu: Emulator, client: Client) -> None:
    png = image_bytes("PNG")
    output = serve(emu, client, png, "x.png")
    query = output.url.split("?", 1)[1]
    node = FileNode({"url": output.url, "filename": f"x.png?{query}"})
    html = node._repr_html_()
    assert html is not None and query not in html
    assert the_img(html)["alt"] == "x.png?…"
    gallery = notebook.gallery_html({"images": node})
    assert query not in gallery
    assert ">images · x.png_…<" in gallery  # the caption names the file as saved (no "?")


def test_a_jpeg_and_other_images_carry_alt_text(emu: Emulator, client: Client) -> None:
    for fmt, name in (("JPEG", "photo.jpg"), ("GIF", "anim.gif"), ("WEBP", "w.webp")):
        output = serve(emu, client, image_bytes(fmt), name)
        html = output._repr_html_()
        assert html is not None and (the_img(html)["alt"] or "").endswith(name)


def test_gallery_tiles_have_alt_text_and_a_caption_with_the_name(emu: Emulator, client: Client) -> None:
    hostile = '"><script>alert(1)</script>.png'
    output: dict[str, Any] = {
        "images": [
            serve(emu, client, image_bytes("PNG"), "first.png"),
            serve(emu, client, image_bytes("PNG"), "second.png", node={"filename": hostile}),
        ]
    }
    html = notebook.gallery_html(output)
    assert_safe(html)
    alts = [attrs["alt"] for tag, attrs in elements(html) if tag == "img"]
    assert len(alts) == 2 and (alts[0] or "").endswith("first.png")
    assert alts[1] == hostile  # the node's own name, escaped
    assert ">images / 0 · " in html and "first.png</figcaption>" in html
    # The caption names the file as it would be saved (a plain name: "/" would be a folder).
    [caption] = [part for part in html.split("<figcaption")[1:] if ">images / 1 · " in part]
    assert "images / 1 · script_.png</figcaption>" in caption and "<script" not in caption
