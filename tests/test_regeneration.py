"""The maintainer's drill: change the spec, regenerate, and check what reaches users.

On a scratch copy of ``openapi/speedpix.yaml``, regenerated with the pinned generator
(``scripts/generate --spec ... --into ...``) and put first on the import and type-check
paths, with no edit in ``speedpix/``:

1. an optional field added to the ``comfy_prompt`` request body is accepted by
   ``run``/``async_run``/``predictions.create`` (typed: mypy passes on a caller using it)
   and sent on the wire;
2. an optional field added to the result data is reachable, typed, from the Prediction;
3. an optional query and header parameter added to an operation breaks nothing;
4. renaming a field the façade reads (``etaRelative``) makes ``mypy --strict speedpix/`` fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "speedpix.yaml"

pytestmark = pytest.mark.timeout(600)


def _generate(spec: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "speedpix.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    out = folder / "generated"
    done = subprocess.run(
        [str(ROOT / "scripts" / "generate"), "--spec", str(path), "--into", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _mypy(generated: Path, *files: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict speedpix/`` (and ``files``) against the client in ``generated``;
    the generated code's own findings are not the façade's, as when it is installed."""
    config = cache.parent / f"{cache.name}.ini"
    config.write_text(
        f"[mypy]\nstrict = True\npython_version = 3.11\nmypy_path = {generated}\n"
        "[mypy-speedpix_api.*]\nignore_errors = True\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(cache), "speedpix/"]
        + [str(file) for file in files],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def _operation(spec: dict[str, Any], path: str) -> dict[str, Any]:
    operation: dict[str, Any] = spec["paths"][path]["post"]
    return operation


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client generated from the spec with a new request field, a new result field
    and a new optional query and header parameter."""
    spec = yaml.safe_load(SPEC.read_text())
    schemas = spec["components"]["schemas"]
    schemas["ComfyPromptRequest"]["properties"]["priority"] = {
        "type": "integer",
        "description": "Scheduling priority (added by the regeneration drill).",
    }
    schemas["ComfyResultData"]["properties"]["seedUsed"] = {
        "type": ["integer", "null"],
        "description": "The seed the run used (added by the regeneration drill).",
    }
    progress = _operation(spec, "/scc/comfy_get_progress")
    progress.setdefault("parameters", []).extend(
        [
            {"name": "trace", "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": "X-SP-TRACE", "in": "header", "required": False, "schema": {"type": "string"}},
        ]
    )
    return _generate(spec, tmp_path_factory.mktemp("extended"))


_CALLER = '''
    """What a user writes once the spec has the new fields."""
    import asyncio
    import json

    from speedpix import Client, Prediction
    from speedpix.testing import Emulator
    from speedpix_api.types import Unset


    def seed_of(prediction: Prediction) -> int | None:
        data = prediction.result_data
        assert data is not None
        seed = data.seed_used  # the new response field, typed
        return None if isinstance(seed, Unset) or seed is None else int(seed)


    def main() -> None:
        with Emulator() as emu:
            client = emu.client()
            output = client.run("demo-txt2img", {"prompt": "sync"}, priority=3)
            assert output["images"], output
            prediction = client.predictions.create("demo-txt2img", {"prompt": "create"}, priority=4)
            prediction.wait()
            assert prediction.status == "succeeded"
            assert seed_of(prediction) is None  # the emulator does not send it
            again = client.predictions.get(prediction.id)  # comfy_get_progress has new parameters
            assert again.status == "succeeded"
            asyncio.run(client.async_run("demo-txt2img", {"prompt": "async"}, priority=5))
            sent = [json.loads(r.body)["priority"] for r in emu.requests if r.path == "/scc/comfy_prompt"]
            assert sent == [3, 4, 5], sent
            client.close()
        print("drill ok")


    if __name__ == "__main__":
        main()
'''


def test_new_fields_reach_users_typed_and_on_the_wire(extended: Path, tmp_path: Path) -> None:
    caller = tmp_path / "caller.py"
    caller.write_text(textwrap.dedent(_CALLER))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(extended), str(ROOT)])}
    done = subprocess.run([sys.executable, str(caller)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "drill ok" in done.stdout, done.stdout + done.stderr

    checked = _mypy(extended, caller, cache=tmp_path / "mypy")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_renamed_field_fails_the_type_check(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC.read_text())
    properties = spec["components"]["schemas"]["ComfyProgressData"]["properties"]
    properties["etaSeconds"] = properties.pop("etaRelative")
    generated = _generate(spec, tmp_path / "renamed")

    checked = _mypy(generated, cache=tmp_path / "mypy")
    assert checked.returncode != 0, "mypy --strict speedpix/ passed on a spec without etaRelative"
    assert "eta_relative" in checked.stdout, checked.stdout


def test_the_unchanged_spec_type_checks(tmp_path: Path) -> None:
    """The drill's baseline: the same type check on the committed generated code passes,
    so the failure above is the rename's."""
    generated = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", generated, ignore=shutil.ignore_patterns("__pycache__"))
    checked = _mypy(generated, cache=tmp_path / "mypy")
    assert checked.returncode == 0, checked.stdout + checked.stderr
