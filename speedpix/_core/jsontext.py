"""JSON text parsed only when its nesting is safe to parse: Python's parser recurses once
per level, and at the interpreter's recursion limit whatever runs meanwhile (a garbage
collection's weakref callbacks, asyncio's among them) fails."""

from __future__ import annotations

import json
import re
from typing import Any, Final

#: Deeper than any reply (replies.MAX_REPLY_DEPTH: 64, refused by interpret(), which can
#: still name a task) or input (inputs.MAX_INPUT_DEPTH: 128); far from the recursion limit.
MAX_PARSED_DEPTH: Final = 256

_JSON_SYNTAX = re.compile(rb'[][{}"\\]')


class NestingGauge:
    """How deeply a JSON text nests, fed its chunks in order: no parse, no recursion."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self._in_string = False
        self._escaped = -1  # where the byte after a backslash is, in the next chunk's offsets

    def feed(self, chunk: bytes) -> bool:
        """False once the text so far nests deeper than ``limit``."""
        escaped = self._escaped
        for match in _JSON_SYNTAX.finditer(chunk):
            at = match.start()
            byte = chunk[at]
            if at == escaped:
                continue
            if self._in_string:
                if byte == 0x5C:  # backslash
                    escaped = at + 1
                elif byte == 0x22:  # quote
                    self._in_string = False
            elif byte == 0x22:
                self._in_string = True
            elif byte in b"[{":
                self.depth += 1
                if self.depth > self.limit:
                    return False
            elif byte in b"]}":
                self.depth -= 1
        self._escaped = escaped - len(chunk)
        return True


def loads(text: str | bytes) -> Any:
    """``json.loads``, but a ValueError for text nested deeper than MAX_PARSED_DEPTH."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # Each level opens with a bracket, so few brackets (in strings or not) need no scan.
    if data.count(b"[") + data.count(b"{") > MAX_PARSED_DEPTH and not NestingGauge(MAX_PARSED_DEPTH).feed(data):
        raise ValueError(f"nested deeper than {MAX_PARSED_DEPTH} levels")
    return json.loads(text)
