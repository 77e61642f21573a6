"""Pillow, numpy, IPython and fsspec stay unloaded unless the user's own objects (or a
save to a storage URL) bring them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_REPORT = """
import json, sys
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & {"PIL", "numpy", "IPython", "fsspec"})))
"""


def _loaded_after(code: str) -> list[str]:
    script = textwrap.dedent(code) + _REPORT
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_import_speedpix_loads_none_of_them_nor_the_display_code() -> None:
    code = """
        import sys
        import speedpix
        lazy = ("speedpix._flows.preview", "speedpix._core.images", "speedpix.progress")
        lazy = [m for m in lazy if m in sys.modules]
        assert not lazy, lazy
    """
    assert _loaded_after(code) == []


def test_a_run_with_files_displays_and_progress_loads_none_of_them() -> None:
    code = """
        import io
        import speedpix
        from speedpix.testing import Emulator

        with Emulator() as emu, emu.client() as client:
            out = client.run("demo-txt2img", {"prompt": "p"}, on_progress=speedpix.ProgressDisplay(io.StringIO()))
            echoed = client.run("demo-echo", {"image": out["images"].read()})
            echoed = client.run("demo-echo", {"image": io.BytesIO(echoed["images"].read())},
                                file_encoding_strategy="base64")
            assert echoed["images"]._repr_png_().startswith(b"\\x89PNG")
            assert echoed["images"]._repr_html_().startswith('<img src="data:image/png;base64,')
            speedpix.show([out, echoed])
    """
    assert _loaded_after(code) == []


def test_the_check_sees_a_module_the_user_brought() -> None:
    # The same check, when numpy is in play, reports it: the tests above could fail.
    code = """
        import numpy
        import speedpix
        from speedpix.testing import Emulator

        with Emulator() as emu, emu.client() as client:
            client.run("demo-echo", {"image": numpy.zeros((2, 2), dtype=numpy.uint8)})
    """
    assert _loaded_after(code) == ["PIL", "numpy"]


def test_a_local_save_loads_no_fsspec_a_storage_url_does(tmp_path: object) -> None:
    code = f"""
        import sys
        from speedpix.testing import Emulator

        with Emulator() as emu, emu.client() as client:
            out = client.run("demo-txt2img", {{"prompt": "p"}})
            out["images"].save({str(tmp_path)!r})
            assert "fsspec" not in sys.modules
            out["images"].save("memory://out/")
    """
    assert _loaded_after(code) == ["fsspec"]
