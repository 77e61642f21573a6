"""Every Python example of the original SDK's README, run as written against the emulator.

The examples are read from the original README itself (the long description of
``speedpix==1.0.4``, fetched once and cached: see ``tests/_original_readme.py``), so this
test follows the contract rather than a copy of it. When the README cannot be had, the
tests fail saying what they need and how to provide it. Fragments that rely on names defined by
earlier blocks (``Client``, ``os``, ``client``) get them, as a reader's session would.
Only placeholders change: the app key,
secret and endpoint become the emulator's, ``"your-workflow-id"`` (and the FAQ's
``"..."``) a workflow registered on it, and the FAQ's ``input={...}`` a real input. The
files the examples name are created in a scratch directory first.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from speedpix.testing import Emulator
from speedpix.testing._workflows import demo_txt2img

from ._original_readme import OriginalReadmeUnavailable, original_readme

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def python_blocks(text: str) -> list[tuple[str, str]]:
    blocks = []
    heading = ""
    for match in re.finditer(r"^(#+ [^\n]*)$|^```python\n(.*?)^```", text, flags=re.M | re.S):
        if match.group(1):
            heading = match.group(1).lstrip("# ").strip()
        else:
            blocks.append((heading, match.group(2)))
    return blocks


try:
    BLOCKS = python_blocks(original_readme())
    UNAVAILABLE: str | None = None
except OriginalReadmeUnavailable as error:
    # Not a collection error: every test of this module fails with the explanation.
    BLOCKS, UNAVAILABLE = [("original README unavailable", "")], str(error)


def _media_file_workflow(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Like demo-txt2img, but first reads every file input, proving the upload worked."""
    for key in ("image", "reference", "mask", "thumbnail"):
        if key in inputs:
            assert ctx.read_input(inputs[key]).startswith(PNG_MAGIC)
    return demo_txt2img(ctx, {"prompt": str(inputs.get("prompt", "file input"))})


@pytest.fixture(scope="module")
def emulator() -> Any:
    with Emulator(app_key="your-app-key", app_secret="your-app-secret") as emu:
        yield emu


def _png(path: Path) -> None:
    from speedpix.testing._png import encode_rgb

    path.parent.mkdir(parents=True, exist_ok=True)
    shade = sum(path.name.encode()) % 256  # a distinct picture per file: uploads are by content
    path.write_bytes(encode_rgb(8, 8, [bytes([shade]) * (8 * 3)] * 8))


def _substitute(code: str, endpoint: str) -> str:
    code = code.replace("https://custom-endpoint.com", endpoint)
    code = code.replace('workflow_id="..."', 'workflow_id="your-workflow-id"')
    return code.replace("input={...}", 'input={"prompt": "faq"}')


def run_block(code: str, emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEEDPIX_ENDPOINT", emu.endpoint)
    monkeypatch.setenv("SPEEDPIX_APP_KEY", emu.app_key)
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", emu.app_secret)
    for name in ("path/to/image.jpg", "reference.png", "mask.jpg", "large_image.jpg", "small_icon.png"):
        _png(tmp_path / name)
    (tmp_path / ".env").write_text(
        f"SPEEDPIX_ENDPOINT={emu.endpoint}\nSPEEDPIX_APP_KEY={emu.app_key}\nSPEEDPIX_APP_SECRET={emu.app_secret}\n"
    )
    import os

    import speedpix

    # Some blocks are fragments that continue earlier ones (they use Client, os or a
    # client without defining them): give them what the earlier blocks defined.
    namespace: dict[str, Any] = {
        "__name__": "readme_example",
        "os": os,
        "speedpix": speedpix,
        "Client": speedpix.Client,
        "client": speedpix.Client(),
    }
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_substitute(code, emu.endpoint), "README example", "exec"), namespace)
        # Blocks that only define a coroutine function (the FAQ) get it run too.
        if "run_multiple" in namespace:
            print("results:", len(asyncio.run(namespace["run_multiple"]())))
    printed = out.getvalue()
    # The examples catch every exception and print a failure line: none may appear.
    assert "失败" not in printed and "Other error" not in printed and "Error:" not in printed, printed
    return printed


def check_constructor_signature(code: str) -> None:
    import inspect

    import speedpix

    documented = dict(re.findall(r"^\s+(\w+): [^=]+= ([^,\n]+)", code, flags=re.M))
    assert documented == {
        "endpoint": "None",
        "app_key": "None",
        "app_secret": "None",
        "timeout": "30.0",
        "user_agent": "None",
    }
    parameters = inspect.signature(speedpix.Client).parameters
    for name, default in documented.items():
        assert repr(parameters[name].default) == default
    # Called by keyword exactly as documented, it builds a client.
    assert speedpix.Client(endpoint=None, app_key="k", app_secret="s", timeout=30.0, user_agent=None)


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(PNG_MAGIC) and struct.unpack(">II", data[16:24]) == (256, 256)


@pytest.mark.parametrize(("heading", "code"), BLOCKS, ids=[f"{i}-{h}" for i, (h, _) in enumerate(BLOCKS)])
def test_readme_example_runs_as_written(
    heading: str, code: str, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if UNAVAILABLE is not None:
        pytest.fail(UNAVAILABLE, pytrace=False)
    if heading == "构造函数":  # the API reference's constructor signature, not a program
        check_constructor_signature(code)
        return
    emulator.reset()
    emulator.register("your-workflow-id", _media_file_workflow, duration=0.05)
    printed = run_block(code, emulator, tmp_path, monkeypatch)
    runs = "client.run(" in code or "speedpix.run(" in code or "async_run(" in code or "predictions.create(" in code
    if runs:
        assert emulator.stats.tasks_created >= 1
    for saved in ("result.png", "async_result.png", "async_result_0.png", "async_result_2.png"):
        if f'"{saved}"' in code or (saved.startswith("async_result_") and "async_result_{i}" in code):
            assert _is_png(tmp_path / saved), saved
    if "mask" in code:  # the file-input example: three distinct files uploaded, once each
        assert emulator.stats.requests_by_path["/scc/sp_create_temp_file_upload_sign"] == 3
    if 'file_encoding_strategy="base64"' in code:
        submitted = [t.inputs for t in emulator.tasks]
        assert any(str(i.get("thumbnail", "")).startswith("data:image/png;base64,") for i in submitted)
    if "client.files.create" in code:
        assert "文件已上传: http://127.0.0.1" in printed
    if "resource_config_id=" in code:
        assert "your-dedicated-resource-id" in {t.resource_config_id for t in emulator.tasks}
    if "run_multiple" in code:
        assert "results: 5" in printed


def test_every_python_example_of_the_readme_is_collected() -> None:
    if UNAVAILABLE is not None:
        pytest.fail(UNAVAILABLE, pytrace=False)
    # 17 ```python blocks in the original README; a change there must be looked at here.
    assert len(BLOCKS) == 17
