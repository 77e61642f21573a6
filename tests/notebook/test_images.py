"""PIL images and numpy arrays as inputs, ``to_pil()`` for outputs, against the emulator."""

from __future__ import annotations

import asyncio
import io
import sys
from typing import Any

import numpy as np
import pytest
from PIL import Image

from speedpix import Client, ConfigurationError, InvalidInputError
from speedpix.testing import Emulator

from .conftest import image_bytes, serve


def _capture(emu: Emulator) -> tuple[str, list[tuple[bytes, str, str]]]:
    """A workflow that keeps what it received for every file input (bytes, type, name)."""
    received: list[tuple[bytes, str, str]] = []

    def collect(ctx: Any, value: Any) -> None:
        if isinstance(value, dict):
            for key in sorted(value):
                collect(ctx, value[key])
        elif isinstance(value, list):
            for item in value:
                collect(ctx, item)
        elif isinstance(value, str):
            received.append(ctx.input_file(value))

    def workflow(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
        collect(ctx, inputs)
        return {"ok": True}

    emu.register("capture", workflow, duration=0.0)
    return "capture", received


def _pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image)


def _gradient(height: int = 20, width: int = 30, channels: int | None = 3) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    planes = [(x * 8) % 256, (y * 12) % 256, (x + y) % 256, 255 - (x * 3) % 256][: channels or 1]
    stacked = np.stack(planes, axis=-1).astype(np.uint8)
    return stacked[..., 0] if channels is None else stacked


@pytest.mark.parametrize("channels", [None, 3, 4])
def test_numpy_arrays_arrive_as_png_with_the_same_pixels(emu: Emulator, client: Client, channels: int | None) -> None:
    workflow, received = _capture(emu)
    array = _gradient(channels=channels)
    client.run(workflow, {"image": array})
    [(data, content_type, filename)] = received
    assert content_type == "image/png" and filename.endswith(".png")
    np.testing.assert_array_equal(_pixels(data), array)


def test_a_non_contiguous_view_is_sent_as_it_looks(emu: Emulator, client: Client) -> None:
    workflow, received = _capture(emu)
    mirrored = _gradient()[:, ::-1]
    client.run(workflow, {"image": mirrored})
    np.testing.assert_array_equal(_pixels(received[0][0]), mirrored)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_pil_images_arrive_as_png_with_the_same_pixels(emu: Emulator, client: Client, mode: str) -> None:
    workflow, received = _capture(emu)
    image = Image.fromarray(_gradient(channels=4), "RGBA").convert(mode)
    client.run(workflow, {"nested": {"list": [image]}})
    [(data, content_type, _)] = received
    assert content_type == "image/png"
    with Image.open(io.BytesIO(data)) as sent:
        assert sent.mode == mode
        np.testing.assert_array_equal(np.asarray(sent), np.asarray(image))
        assert sent.getpalette() == image.getpalette()


def test_a_cmyk_image_is_converted_to_rgb(emu: Emulator, client: Client) -> None:
    workflow, received = _capture(emu)
    image = Image.fromarray(_gradient(), "RGB").convert("CMYK")
    client.run(workflow, {"image": image})
    with Image.open(io.BytesIO(received[0][0])) as sent:
        assert sent.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(sent), np.asarray(image.convert("RGB")))


def test_base64_strategy_inlines_the_png_as_a_data_uri(emu: Emulator, client: Client) -> None:
    workflow, received = _capture(emu)
    array = _gradient(channels=4)
    client.run(workflow, {"image": array}, file_encoding_strategy="base64")
    [(data, content_type, _)] = received
    assert content_type == "image/png"
    np.testing.assert_array_equal(_pixels(data), array)
    assert not [r for r in emu.requests if r.path.endswith("sp_create_temp_file_upload_sign")]


def test_the_same_image_twice_is_uploaded_once(emu: Emulator, client: Client) -> None:
    workflow, received = _capture(emu)
    image = Image.fromarray(_gradient())
    client.run(workflow, {"images": [image, image]})
    assert len(received) == 2 and received[0][0] == received[1][0]
    puts = [r for r in emu.requests if r.method == "PUT"]
    assert len(puts) == 1


def test_async_run_takes_images_too(emu: Emulator, client: Client) -> None:
    workflow, received = _capture(emu)
    array, image = _gradient(), Image.fromarray(_gradient(channels=None))
    asyncio.run(client.async_run(workflow, {"a": array, "b": image}))
    np.testing.assert_array_equal(_pixels(received[0][0]), array)
    np.testing.assert_array_equal(_pixels(received[1][0]), np.asarray(image))


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros((4, 4, 3), dtype=np.float64), ("input['image']", "uint8", "float64", "astype('uint8')")),
        (np.zeros((4, 4, 2), dtype=np.uint8), ("input['image']", "H×W×3", "(4, 4, 2)")),
        (np.zeros((4,), dtype=np.uint8), ("shape (4,)",)),
        (np.zeros((0, 4), dtype=np.uint8), ("empty",)),
    ],
)
def test_unusable_arrays_are_refused_before_any_request(
    emu: Emulator, client: Client, array: np.ndarray, words: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        client.run("demo-echo", {"image": array})
    for word in words:
        assert word in str(caught.value)
    assert emu.requests == []


def test_without_pillow_an_array_input_names_the_extra_before_any_request(
    emu: Emulator, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now fails, as when not installed
    with pytest.raises(ConfigurationError) as caught:
        client.run("demo-echo", {"image": _gradient()})
    assert "pip install 'speedpix[images]'" in str(caught.value)
    assert "input['image']" in str(caught.value)
    assert emu.requests == []


def test_to_pil_decodes_an_image_output(emu: Emulator, client: Client) -> None:
    output = client.run("demo-txt2img", {"prompt": "p", "width": 40, "height": 30})
    image = output["images"].to_pil()
    assert image.size == (40, 30) and image.mode == "RGB"
    same = Image.open(io.BytesIO(output["images"].read()))
    np.testing.assert_array_equal(np.asarray(image), np.asarray(same))
    async_image = asyncio.run(output["images"]["url"].async_to_pil())
    np.testing.assert_array_equal(np.asarray(async_image), np.asarray(image))
    assert asyncio.run(output["images"].async_to_pil()).size == (40, 30)


def test_to_pil_reuses_the_bytes_a_display_fetched(emu: Emulator, client: Client) -> None:
    output = serve(emu, client, image_bytes("PNG"), "x.png")
    output._repr_png_()
    before = [r for r in emu.requests if r.method == "GET"]
    assert output.to_pil().size == (24, 16)
    assert [r for r in emu.requests if r.method == "GET"] == before


def test_to_pil_of_a_file_that_is_no_image_says_so(emu: Emulator, client: Client) -> None:
    output = serve(emu, client, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "clip.mp4")
    with pytest.raises(InvalidInputError, match=r"clip\.mp4 is not an image Pillow can open"):
        output.to_pil()


def test_to_pil_without_pillow_names_the_extra_and_downloads_nothing(
    emu: Emulator, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = serve(emu, client, image_bytes("PNG"), "x.png")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'speedpix\[images\]'"):
        output.to_pil()
    with pytest.raises(ConfigurationError, match=r"pip install 'speedpix\[images\]'"):
        asyncio.run(output.async_to_pil())
    assert not [r for r in emu.requests if r.method == "GET"]


def test_demo_img2img_returns_a_recoloured_image_of_the_same_size(client: Client) -> None:
    source = _gradient(48, 64)
    output = client.run("demo-img2img", {"image": source, "prompt": "sepia"})
    result = np.asarray(output["images"].to_pil())
    assert result.shape == source.shape
    assert not np.array_equal(result, source)
    # Identity at strength 0: derived from the input, not drawn from scratch.
    unchanged = client.run("demo-img2img", {"image": source, "strength": 0})
    np.testing.assert_array_equal(np.asarray(unchanged["images"].to_pil()), source)


def test_files_create_uploads_an_image_as_png(emu: Emulator, client: Client) -> None:
    workflow, received = _capture(emu)
    array = _gradient(channels=4)
    uploaded = client.files.create(array)
    assert uploaded.content_type == "image/png" and uploaded.name == "image.png"
    named = asyncio.run(client.files.async_create(Image.fromarray(array), filename="mine.png"))
    assert named.name == "mine.png"
    client.run(workflow, {"a": uploaded.access_url, "b": named})
    for data, _, _ in received:
        np.testing.assert_array_equal(_pixels(data), array)
