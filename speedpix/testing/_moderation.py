"""The business gateway's content-security check, as the emulator plays it: a submission
whose inputs contain a sensitive word is refused with ``B_API_AuditFailed``.

The real check is a black box (the docs say only "input contains sensitive content");
the emulator's is a word list, so that a test decides exactly what is refused:

- a word matches anywhere inside any text value of ``inputs``, at any depth (objects
  and arrays), ignoring case (``str.casefold``); keys are not read;
- file inputs are not read as text: a value that is an ``http(s)://`` URL or a
  ``data:`` URI names a file (whose bytes the real service would check as an image,
  which the emulator does not); reading their text would refuse base64 or a URL's
  signature that happens to contain a short word, at random.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

#: The business gateway's error code for a refusal by the content-security check.
AUDIT_FAILED: Final = "B_API_AuditFailed"
#: Its message. The real one is undocumented; this says what happened and, as a content
#: check does, not which word it matched.
AUDIT_FAILED_MESSAGE: Final = "业务网关层内容安全拦截:输入包含敏感内容 (input contains sensitive content)"

_FILE_PREFIXES: Final = ("http://", "https://", "data:")


def sensitive_words(words: Iterable[str]) -> tuple[str, ...]:
    """The words, checked and case-folded. A lone string is refused (it would otherwise
    be read as a list of single letters)."""
    if isinstance(words, str | bytes):
        raise TypeError("sensitive words are a list of strings, e.g. ['forbidden'], not one string")
    folded: list[str] = []
    for word in words:
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"a sensitive word is a non-empty string, got {word!r}")
        folded.append(word.casefold())
    return tuple(dict.fromkeys(folded))


def is_refused(inputs: Any, words: tuple[str, ...]) -> bool:
    """Whether a text value of ``inputs`` contains one of ``words`` (case-folded)."""
    if not words:
        return False
    stack = [inputs]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if value[:8].lower().startswith(_FILE_PREFIXES):
                continue
            text = value.casefold()
            if any(word in text for word in words):
                return True
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
