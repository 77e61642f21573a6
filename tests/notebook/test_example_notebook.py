"""examples/quickstart.ipynb, executed in a real Jupyter kernel against the emulator."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    workdir = tmp_path_factory.mktemp("notebook")
    copy = workdir / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    nb = nbformat.read(copy, as_version=4)
    # The kernel runs this interpreter (jupyter_client maps the spec's `python` to it).
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def _code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _has_image(output: Any) -> bool:
    data = output.get("data", {})
    return "image/png" in data or "image/jpeg" in data or "<img" in data.get("text/html", "")


def test_every_cell_ran_without_error(executed: Any) -> None:
    cells = _code_cells(executed)
    assert cells and all(cell.execution_count for cell in cells)
    errors = [output for cell in cells for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    stderr = [o.text for cell in cells for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []


def test_outputs_show_images(executed: Any) -> None:
    with_images = [cell for cell in _code_cells(executed) if any(_has_image(o) for o in cell.outputs)]
    # text-to-image, image-to-image from PIL, from numpy, and the gallery
    assert len(with_images) == 4
    for cell in with_images[:3]:
        [result] = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert result.data["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature
        # The same image as HTML, which a frontend shows instead: with its name as alt text.
        html = result.data["text/html"]
        assert html.startswith('<img src="data:image/png;base64,iVBORw0KGgo') and ' alt="' in html
        assert result.data["text/plain"].startswith("{'url': FileOutput('http://127.0.0.1:")


def test_the_gallery_has_one_image_per_prompt(executed: Any) -> None:
    [cell] = [cell for cell in _code_cells(executed) if "speedpix.show(" in cell.source]
    [output] = cell.outputs
    html = output.data["text/html"]
    assert html.count('<img src="data:image/png;base64,') == 4
    for prompt in ("a red fox", "a quiet harbour", "neon city", "autumn forest"):
        assert f">{prompt} / images · " in html  # and the file name after it


def test_progress_is_one_output_updated_in_place(executed: Any) -> None:
    [cell] = [cell for cell in _code_cells(executed) if "ProgressDisplay()" in cell.source]
    progress = [o for o in cell.outputs if "speedpix-progress" in o.get("data", {}).get("text/html", "")]
    # The task took a second and reported several changes, all in this one output.
    assert len(progress) == 1
    assert "succeeded" in progress[0].data["text/plain"]
    assert '<progress value="1"' in progress[0].data["text/html"]


def test_image_to_image_transforms_the_input(executed: Any) -> None:
    import base64
    import io

    import numpy as np
    from PIL import Image

    images = [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(o.data["image/png"]))))
        for cell in _code_cells(executed)
        for o in cell.outputs
        if o.output_type == "execute_result" and "image/png" in o.get("data", {})
    ]
    original, toned, mirrored = images
    assert original.shape == toned.shape == mirrored.shape
    assert not np.array_equal(original, toned) and not np.array_equal(original, mirrored)
