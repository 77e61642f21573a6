"""Text on a terminal (or on what stands for one: a log, a pipe). What a server (or a
hostile emulator) sent never reaches it raw: ``printable`` escapes what could move the
cursor, erase, recolour or start a line that looks like ours."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .._flows.tasks import Prediction

__all__ = ["LiveLine", "json_text", "printable"]

# What json.dumps(..., ensure_ascii=False) may leave raw that printable() would escape:
# DEL, the C1 controls (0x9b is CSI, as ESC [ is), the line and paragraph separators...
# "\n" is left alone: outside strings it is the layout of indent=; inside, json escaped it.
_MAYBE_UNPRINTABLE = re.compile(r"[^\n\x20-\x7e]")


def printable(text: object) -> str:
    """``str(text)`` with printable characters (of any script) as they are and every
    other one escaped as ``repr`` escapes it: CR, LF, tab, ESC and the other C0 and C1
    controls become ``\\r``, ``\\n``, ``\\t``, ``\\x1b``, ``\\x9b``... One line, inert
    on a terminal."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)``, with what ``printable``
    would escape written as ``\\uXXXX``: the same JSON, readable in any script, inert
    on a terminal."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return char if char.isprintable() else json.dumps(char)[1:-1]

    return _MAYBE_UNPRINTABLE.sub(escape, json.dumps(value, ensure_ascii=False, **options))


class LiveLine:
    """Lines on ``stream``; on a terminal, one of them can be *live*: rewritten in place
    until a line of its own or ``finish`` ends it. A stream that fails (closed, broken)
    turns it off instead of failing the caller."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, enabled: bool = True) -> None:
        self.stream = stream
        if tty is None:
            isatty = getattr(stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self.enabled = enabled
        self._live = False  # a line is on screen without its newline

    def rewrite(self, text: str, *, width: int | None = None) -> None:
        """Show ``printable(text)`` (its first ``width`` characters) as the live line,
        in place of the one before (terminals only)."""
        if self.enabled:
            self._write("\r\x1b[K" + printable(text)[:width])
            self._live = True

    def line(self, text: str) -> None:
        """``printable(text)`` on a line of its own (ends the live line first)."""
        if self.enabled:
            self.finish()
            self._write(printable(text) + "\n")

    def finish(self) -> None:
        """End the live line, if any, so that what follows starts on a new line."""
        if self._live:
            self._write("\n")
            self._live = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not fail the task
            self.enabled = False


def _seconds(value: float) -> str:
    value = max(0.0, value)
    if value < 60:
        return f"{value:.0f}s" if value >= 10 else f"{value:.1f}s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def describe(prediction: Prediction, *, elapsed: float | None = None, bar: bool = False) -> str:
    """One line about a task: its status, queue position, progress and ETA."""
    parts = [f"task {prediction.id}"]
    status = prediction.status
    if status == "waiting":
        queued = "queued"
        if prediction.queue_position is not None:
            queued += f", {prediction.queue_position} ahead"
        parts.append(queued)
    elif status == "running" and prediction.progress is not None:
        progress = prediction.progress
        if bar:
            filled = round(progress * 20)
            parts.append(f"running [{'#' * filled}{'.' * (20 - filled)}] {progress:4.0%}")
        else:
            parts.append(f"running {progress:.0%}")
    else:
        parts.append(status)
    if not prediction.done and prediction.eta is not None and prediction.eta > 0:
        parts.append(f"ETA {_seconds(prediction.eta)}")
    if elapsed is not None:
        parts.append(f"elapsed {_seconds(elapsed)}")
    return " · ".join(parts)
