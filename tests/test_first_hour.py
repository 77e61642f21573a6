"""A newcomer's first hour: what the emulator offers, and a mistyped file path."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from speedpix import Client
from speedpix.testing import Emulator

_WITHOUT_PILLOW = """
import importlib.abc, sys

class NoPillow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "PIL" or name.startswith("PIL."):
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, NoPillow())
"""


def test_without_pillow_the_emulator_offers_no_workflow_it_cannot_run() -> None:
    code = _WITHOUT_PILLOW + (
        "from speedpix.testing import Emulator\n"
        "from speedpix.testing._serve import _parser\n"
        "with Emulator() as emu:\n"
        "    print(emu.workflows)\n"
        "print(_parser().format_help())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    listed, help_text = out.split("\n", 1)
    assert listed == "['demo-echo', 'demo-txt2img']"
    assert "Built-in workflows here: demo-echo, demo-txt2img (demo-img2img needs Pillow" in " ".join(help_text.split())


@pytest.fixture
def emu(speedpix_emulator: Emulator) -> Emulator:
    speedpix_emulator.register("inputs-back", lambda ctx, inputs: {"inputs": inputs})
    return speedpix_emulator


@pytest.fixture
def client(emu: Emulator) -> Client:
    return emu.client()


def test_with_pillow_the_emulator_lists_demo_img2img(emu: Emulator) -> None:
    import PIL  # a development dependency: the suite runs with it  # noqa: F401

    assert {"demo-echo", "demo-img2img", "demo-txt2img"} <= set(emu.workflows)


def test_a_media_name_that_names_no_file_is_sent_as_text_with_a_warning(
    emu: Emulator, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="speedpix"):
        output = client.run("inputs-back", {"image": "photoz/17.jpg", "prompt": "a cat"})
    assert output["inputs"]["image"] == "photoz/17.jpg"
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "input['image']" in warnings[0] and "'photoz/17.jpg'" in warnings[0]
    assert "detect_file_paths=False" in warnings[0] and "pathlib.Path" in warnings[0]


def test_no_warning_with_detect_file_paths_off(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    client = emu.client(detect_file_paths=False)
    with caplog.at_level(logging.WARNING, logger="speedpix"):
        client.run("inputs-back", {"image": "photoz/17.jpg"})
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_the_package_metadata_names_its_license_and_links() -> None:
    from importlib.metadata import metadata

    info = metadata("speedpix")
    assert info["License-Expression"] == "MIT"
    urls = info.get_all("Project-URL") or []
    assert urls and all(url.split(", ", 1)[1].startswith("https://") for url in urls)
