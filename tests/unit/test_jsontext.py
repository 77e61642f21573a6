"""JSON text parsed only when its nesting is safe (``speedpix._core.jsontext``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from speedpix._core.jsontext import MAX_PARSED_DEPTH, NestingGauge, loads


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _gauged(text: bytes, limit: int, chunk: int) -> tuple[bool, int]:
    gauge = NestingGauge(limit)
    within = all(gauge.feed(text[at : at + chunk]) for at in range(0, len(text), chunk))
    return within, gauge.depth


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1000])
def test_nesting_gauge_counts_structure_not_strings(chunk: int) -> None:
    # Brackets inside strings, escaped quotes and backslashes, split anywhere between chunks.
    text = json.dumps({"a": [1, {"b": '[[{{ \\" ]]', "c": ["\\", '"[', []]}]}).encode()
    assert b'\\"' in text and b"\\\\" in text
    assert _gauged(text, 5, chunk) == (True, 0)
    assert _gauged(text, 4, chunk)[0] is False
    assert _gauged(json.dumps(_nested(10)).encode(), 10, chunk) == (True, 0)


def test_nesting_gauge_stops_at_the_limit_of_a_deep_text() -> None:
    text = b'{"a": [' * 50_000
    assert _gauged(text, 256, 8192) == (False, 257)
    assert _gauged(b'"' + text + b'"', 256, 8192) == (True, 0)  # all of it one string


def test_loads_parses_up_to_the_limit_and_refuses_beyond() -> None:
    assert loads(json.dumps(_nested(MAX_PARSED_DEPTH))) == _nested(MAX_PARSED_DEPTH)
    assert loads(b'{"a": "' + b"[" * 10_000 + b'"}') == {"a": "[" * 10_000}  # brackets in a string
    with pytest.raises(ValueError, match=f"nested deeper than {MAX_PARSED_DEPTH} levels"):
        loads(json.dumps(_nested(MAX_PARSED_DEPTH + 1)))
    with pytest.raises(ValueError, match="nested deeper"):
        loads("[" * 100_000)
    with pytest.raises(json.JSONDecodeError):
        loads("{not json")
