"""The README's two commands: the same in both languages, and the demo's installs no dev tools.

``.ci/run`` runs them, as read from the README's first ``bash`` block, in a fresh clone.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _command_blocks() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.M | re.S)
    return [[line for line in block.splitlines() if line and not line.startswith("#")] for block in blocks]


def test_both_languages_give_the_same_two_commands() -> None:
    english, *others = [block for block in _command_blocks() if len(block) == 2]
    assert others and all(block == english for block in others), (english, others)


def test_the_demo_installs_the_runtime_and_the_emulator_only() -> None:
    demo, tests = _command_blocks()[0]
    assert demo.endswith("uv run --no-dev --extra testing speedpix demo"), demo
    assert tests.endswith("uv run pytest"), tests
