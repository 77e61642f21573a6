"""Rich display of outputs (the bundles Jupyter receives), against the emulator."""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

import pytest

import speedpix
from speedpix import Client, FileNode, FileOutput
from speedpix._apps import notebook
from speedpix._flows import preview as _display
from speedpix.testing import Emulator

from .conftest import gets, image_bytes, serve


def _data_uri_bytes(html: str, content_type: str) -> bytes:
    match = re.search(rf'src="data:{re.escape(content_type)};base64,([A-Za-z0-9+/=]+)"', html)
    assert match, html[:300]
    return base64.b64decode(match.group(1))


def test_png_displays_as_image_png_fetched_once_without_credentials(emu: Emulator, client: Client) -> None:
    png = image_bytes("PNG")
    output = serve(emu, client, png, "result.png")
    assert isinstance(output, FileOutput)
    assert output._repr_png_() == png
    html = output._repr_html_()  # the same bytes, with the file name as alt text
    assert html is not None and _data_uri_bytes(html, "image/png") == png and 'alt="' in html
    assert output._repr_jpeg_() is None
    assert output._repr_png_() == png  # a second display
    fetched = gets(emu, output.url)
    assert len(fetched) == 1
    assert not {"x-ca-key", "x-ca-signature", "authorization"} & set(fetched[0].headers)


def test_str_stays_the_url_and_repr_hides_its_signature(emu: Emulator, client: Client) -> None:
    output = serve(emu, client, image_bytes("PNG"), "result.png")
    url = output.url
    output._repr_png_()
    assert str(output) == url and output == url
    assert "?" in url
    assert repr(output) == f"FileOutput({url.split('?', 1)[0] + '?…'!r})"


def test_jpeg_displays_as_image_jpeg(emu: Emulator, client: Client) -> None:
    jpeg = image_bytes("JPEG")
    output = serve(emu, client, jpeg, "photo.jpg")
    assert output._repr_jpeg_() == jpeg
    assert output._repr_png_() is None
    html = output._repr_html_()
    assert html is not None and _data_uri_bytes(html, "image/jpeg") == jpeg


@pytest.mark.parametrize(
    ("fmt", "filename", "content_type"), [("GIF", "a.gif", "image/gif"), ("WEBP", "a.webp", "image/webp")]
)
def test_other_images_display_as_an_img_with_a_data_uri(
    emu: Emulator, client: Client, fmt: str, filename: str, content_type: str
) -> None:
    data = image_bytes(fmt)
    output = serve(emu, client, data, filename)
    html = output._repr_html_()
    assert html is not None and "<img" in html
    assert _data_uri_bytes(html, content_type) == data
    assert output._repr_png_() is None and output._repr_jpeg_() is None


def test_file_node_displays_its_url_and_shares_the_fetch(emu: Emulator, client: Client) -> None:
    png = image_bytes("PNG")
    node = serve(emu, client, png, "x.png", node={"type": "image", "filename": "x.png", "format": "png"})
    assert isinstance(node, FileNode)
    assert node._repr_png_() == png
    assert node["url"]._repr_png_() == png
    assert len(gets(emu, node.url)) == 1
    assert repr(node) == repr(dict(node))


@pytest.mark.parametrize(("filename", "tag"), [("clip.mp4", "video"), ("voice.mp3", "audio"), ("take.webm", "video")])
def test_video_and_audio_are_players_pointing_at_the_url_and_never_fetched(
    emu: Emulator, client: Client, filename: str, tag: str
) -> None:
    output = serve(emu, client, b"\x00" * 1000, filename)
    html = output._repr_html_()
    assert html is not None
    assert f'<{tag} controls preload="metadata" src="{output.url.replace("&", "&amp;")}"' in html
    assert "expires" in html
    assert output._repr_png_() is None and output._repr_jpeg_() is None
    assert gets(emu, output.url) == []


def test_a_node_that_says_video_is_a_player_even_without_an_extension(emu: Emulator, client: Client) -> None:
    node = serve(emu, client, b"\x00" * 100, "render", node={"type": "video"})
    html = node._repr_html_()
    assert html is not None and "<video" in html
    assert gets(emu, node.url) == []


def test_a_video_without_a_telling_name_stops_after_its_first_bytes(emu: Emulator, client: Client) -> None:
    mp4_head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    output = serve(emu, client, mp4_head + b"\x00" * (3 * 1024 * 1024), "render.bin")
    html = output._repr_html_()
    assert html is not None and "<video" in html
    assert output._repr_png_() is None


def test_an_image_without_a_telling_name_is_recognised_by_its_bytes(emu: Emulator, client: Client) -> None:
    png = image_bytes("PNG")
    output = serve(emu, client, png, "output")
    assert output._repr_png_() == png


def test_size_cap_shows_a_note_instead_of_the_image(emu: Emulator, client: Client) -> None:
    png = image_bytes("PNG", size=(200, 200))
    cap = len(png) - 1
    output = serve(emu, client, png, "big.png")
    shown = _display.preview(output, max_bytes=cap)
    assert shown.kind == "note" and shown.data is None
    assert f"larger than {cap} bytes" in (shown.reason or "")
    html = shown.html()
    assert "<img" not in html and 'href="' in html
    # A larger cap later fetches it whole.
    assert _display.preview(output, max_bytes=len(png)).png() == png


def test_default_cap_is_10_mb_and_a_larger_image_is_not_read_whole(emu: Emulator, client: Client) -> None:
    size = 12 * 1024 * 1024
    name = "huge-image"
    emu.register(
        name,
        lambda ctx, inputs: {"out": ctx.store_generated(size, content_type="image/png", filename="huge.png")},
        duration=0.0,
    )
    output = client.run(name, {})["out"]
    assert output._repr_png_() is None
    html = output._repr_html_()
    assert html is not None and "larger than 10.0 MB" in html and "<img" not in html


def test_a_file_that_is_no_image_shows_a_note(emu: Emulator, client: Client) -> None:
    output = serve(emu, client, b'{"caption": "a cat"}', "meta.json")
    html = output._repr_html_()
    assert html is not None and "not an image, video or audio file" in html
    assert output._repr_png_() is None


def test_a_tiff_image_is_a_note_browsers_cannot_show_it(emu: Emulator, client: Client) -> None:
    output = serve(emu, client, image_bytes("TIFF"), "scan.tiff")
    html = output._repr_html_()
    assert html is not None and "image/tiff" in html and "<img" not in html


def test_a_failed_fetch_shows_a_note_without_the_query_and_tries_again_later(
    emu: Emulator, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    png = image_bytes("PNG")
    output = serve(emu, client, png, "gone.png")
    path = urlsplit(output.url).path
    emu.inject(path, "not_found", count=1)
    html = output._repr_html_()  # must not raise
    assert html is not None
    assert "could not fetch it" in html and "404" in html
    visible = re.sub(r'href="[^"]*"', "", html)
    assert "Signature" not in visible and "Expires" not in visible
    assert f">{output.url.split('?')[0]}</a>" in html
    assert f'href="{output.url.replace("&", "&amp;")}"' in html
    # The other formatters of the same display reuse the failure: no second GET.
    assert output._repr_png_() is None
    assert len(gets(emu, output.url)) == 1
    # A later display (past the failure's short memory) fetches again.
    monkeypatch.setattr(_display, "FAILURE_TTL", 0.0)
    assert output._repr_png_() == png
    assert len(gets(emu, output.url)) == 2


def test_an_unreachable_output_shows_a_note(client: Client) -> None:
    output = FileOutput("http://127.0.0.1:9/nothing/here.png?Signature=secret")  # port 9: refused
    html = output._repr_html_()
    assert html is not None and "could not fetch it" in html
    assert "secret" not in re.sub(r'href="[^"]*"', "", html)


def test_gallery_shows_every_file_with_its_label(emu: Emulator, client: Client) -> None:
    png, gif = image_bytes("PNG"), image_bytes("GIF")
    first = {"images": serve(emu, client, png, "a.png"), "text": "hello"}
    second = {"frames": [serve(emu, client, gif, "b.gif"), serve(emu, client, b"\x00" * 10, "c.mp4")]}
    html = notebook.gallery_html({"first": first, "second": second})
    assert _data_uri_bytes(html, "image/png") == png
    assert _data_uri_bytes(html, "image/gif") == gif
    assert "<video" in html
    for label in ("first / images", "second / frames / 0", "second / frames / 1"):
        assert f">{label} · " in html  # and the file name after it
    assert notebook.gallery_html({"text": "no files"}).count("no files in this output") == 1


def test_show_outside_a_notebook_prints_one_line_per_file(
    emu: Emulator, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    output = {"images": [serve(emu, client, image_bytes("PNG"), "a.png"), serve(emu, client, b"x", "b.mp4")]}
    assert speedpix.show(output) is None
    lines = capsys.readouterr().out.splitlines()
    first, second = (file.url.split("?", 1)[0] for file in output["images"])  # never the signature
    assert lines == [f"images / 0 · 00001_a.png: {first}", f"images / 1 · 00001_b.mp4: {second}"]
    assert gets(emu, output["images"][0].url) == []  # nothing fetched to print


def test_show_accepts_a_prediction(emu: Emulator, client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    prediction = client.predictions.create("demo-txt2img", {"prompt": "p"})
    prediction.wait()
    speedpix.show(prediction)
    assert capsys.readouterr().out.startswith("images · ")


def test_fetched_bytes_stay_out_of_pickles_and_go_with_the_object(emu: Emulator, client: Client) -> None:
    import gc
    import pickle

    png = image_bytes("PNG")
    node = FileNode({"url": serve(emu, client, png, "p.png").url, "filename": "p.png"})  # a plain-str url
    file = serve(emu, client, png, "q.png")
    assert node._repr_png_() == png and file._repr_png_() == png
    assert png not in pickle.dumps(node) and png not in pickle.dumps(file)
    assert pickle.loads(pickle.dumps(node)) == node
    held = len(_display._FETCHED)
    del node, file
    gc.collect()
    assert len(_display._FETCHED) == held - 2


def test_ipython_formatters_fetch_only_where_images_can_be_shown(emu: Emulator, client: Client) -> None:
    from IPython.core.formatters import DisplayFormatter

    png = image_bytes("PNG")
    output = serve(emu, client, png, "shown.png")
    terminal = DisplayFormatter()
    terminal.active_types = ["text/plain"]  # what terminal IPython sets
    data, _ = terminal.format(output)
    assert data == {"text/plain": repr(output)}
    assert gets(emu, output.url) == []  # printing the URL downloads nothing
    data, _ = DisplayFormatter().format(output)  # a Jupyter frontend's formatters
    assert set(data) == {"text/plain", "image/png", "text/html"}  # HTML for its alt text
    assert data["image/png"] == png and _data_uri_bytes(data["text/html"], "image/png") == png
    assert len(gets(emu, output.url)) == 1


def test_text_displays_carry_no_link_signature(emu: Emulator, client: Client) -> None:
    from IPython.lib.pretty import pretty

    output = client.run("demo-txt2img", {"prompt": "p"})
    file = output["images"]["url"]
    assert "?" in file.url  # a presigned link, signed in its query
    for text in (pretty(file), pretty(output["images"]), notebook.gallery_text(output)):
        assert file.url not in text and file.url.split("?", 1)[1] not in text
        assert file.url.split("?", 1)[0] in text


def test_a_file_that_cannot_be_fetched_says_how_to_get_fresh_links(emu: Emulator, client: Client) -> None:
    output = client.run("demo-txt2img", {"prompt": "p"})
    gone = FileOutput(output["images"]["url"].url.replace("/storage/", "/missing/"), task_id="task-42")
    html = gone._repr_html_() or ""
    assert "client.predictions.get(&#x27;task-42&#x27;)" in html
    assert "<code>.save()</code> the file to keep it" not in html
