"""`from speedpix import Client` loads httpx and a few small modules of ours; the generated
package (and attrs), asyncio and aiohttp wait for the first call that needs them."""

from __future__ import annotations

import json
import subprocess
import sys

_LATER = ("speedpix_api", "attrs", "attr", "asyncio", "aiohttp", "httpx_aiohttp", "speedpix._flows", "speedpix._wire")


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _later(loaded: set[str]) -> list[str]:
    return sorted(name for name in loaded if name.startswith(_LATER))


def test_from_speedpix_import_client_loads_httpx_and_nothing_heavier() -> None:
    loaded = _loaded_after("from speedpix import Client\nClient('k', 's')")
    assert "httpx" in loaded
    assert _later(loaded) == []


def test_the_first_call_loads_the_generated_client() -> None:
    code = (
        "from speedpix import Client\n"
        "from speedpix.errors import InvalidInputError\n"
        "try:\n"
        "    Client('k', 's').predictions.create('wf', {}, alias_id='a', version_id='v')\n"
        "except InvalidInputError:\n"
        "    pass\n"
    )
    assert "speedpix_api" in _loaded_after(code)
