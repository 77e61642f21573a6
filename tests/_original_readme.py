"""The original SDK's README, from the original package's own metadata.

The README of ``speedpix==1.0.4`` is its long description, so every machine that can
install packages can have it: ``pip download`` fetches the wheel (21 kB, no
dependencies, nothing installed) and the ``METADATA`` file inside it holds the text.
It is fetched once and cached under ``.cache/`` (git-ignored). Its text is not copied
into this repository: the test follows the original's contract, not a copy of it.

``SPEEDPIX_ORIGINAL_README`` names a local copy instead (the README as Markdown, or
the package's wheel or sdist), for machines without access to a package index.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "speedpix==1.0.4"
ENV_VAR = "SPEEDPIX_ORIGINAL_README"
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "original-readme" / "speedpix-1.0.4-README.md"


class OriginalReadmeUnavailable(Exception):
    """The README could not be had; the message says what was tried and what to do."""


def _help(problem: str) -> str:
    return (
        f"The test of the original SDK's README examples needs that README: the long description of "
        f"{PACKAGE} on PyPI. {problem}\n"
        f"To provide it: allow `pip download {PACKAGE} --no-deps` to reach your package index (the "
        f"result is cached in {CACHE.relative_to(ROOT)}), or set {ENV_VAR} to a local copy of the "
        f"README (Markdown), or of the speedpix-1.0.4 wheel or sdist."
    )


def _description(metadata: bytes) -> str:
    """The long description in a METADATA/PKG-INFO file (core metadata: an email body)."""
    message = email.message_from_string(metadata.decode("utf-8"))
    body = message.get_payload()
    if not isinstance(body, str) or not body.strip():
        body = message.get("Description") or ""
    return body


def _from_distribution(path: Path) -> str:
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            return _description(wheel.read(name))
    with tarfile.open(path) as sdist:
        member = next(m for m in sdist.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        handle = sdist.extractfile(member)
        assert handle is not None
        return _description(handle.read())


def _pip_interpreters() -> list[str]:
    # A uv-made venv has no pip; the interpreter it was made from has (the machine's Python).
    candidates = [sys.executable, getattr(sys, "_base_executable", sys.executable)]
    return list(dict.fromkeys(candidates))


def _download(into: Path) -> Path:
    failures = []
    for python in _pip_interpreters():
        command = [python, "-m", "pip", "download", PACKAGE, "--no-deps", "--disable-pip-version-check"]
        command += ["--timeout", "15", "--retries", "2", "--dest", str(into)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=180)
        except (OSError, subprocess.TimeoutExpired) as error:
            failures.append(f"{' '.join(command[:3])}: {error}")
            continue
        found = sorted(into.glob("speedpix-1.0.4*"))
        if done.returncode == 0 and found:
            return found[0]
        output = (done.stderr or done.stdout).strip().splitlines()
        failures.append(f"{' '.join(command[:5])} (exit {done.returncode}): {' | '.join(output[-3:])}")
    raise OriginalReadmeUnavailable(_help("Downloading it failed:\n  " + "\n  ".join(failures)))


def original_readme() -> str:
    """The README's text; :class:`OriginalReadmeUnavailable` says why not and what to do."""
    local = os.environ.get(ENV_VAR)
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise OriginalReadmeUnavailable(_help(f"{ENV_VAR}={local} names no file."))
        if path.name.endswith((".whl", ".tar.gz")):
            return _from_distribution(path)
        return path.read_text(encoding="utf-8")
    if CACHE.is_file():
        return CACHE.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        text = _from_distribution(_download(Path(scratch)))
    if "```python" not in text:
        raise OriginalReadmeUnavailable(_help(f"The downloaded {PACKAGE} has no README with Python examples."))
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    partial = CACHE.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(CACHE)  # atomic: a concurrent run never reads half a file
    return text
