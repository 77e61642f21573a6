"""Text on a terminal (or a log, a pipe): what a server sent never reaches it raw."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .._flows.tasks import Prediction


# What json.dumps(..., ensure_ascii=False) may leave raw that printable() would escape (DEL,
# C1 controls, line separators...); "\n" is layout of indent=, json escaped those in strings.
_MAYBE_UNPRINTABLE = re.compile(r"[^\n\x20-\x7e]")


def printable(text: object) -> str:
    """``str(text)`` with every unprintable character (CR, LF, ESC, C0 and C1 controls...)
    escaped as ``repr`` escapes it: one line, inert on a terminal, any script readable."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)``, what ``printable`` would escape as ``\\uXXXX``."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return char if char.isprintable() else json.dumps(char)[1:-1]

    return _MAYBE_UNPRINTABLE.sub(escape, json.dumps(value, ensure_ascii=False, **options))


class LiveLine:
    """Lines on ``stream``; on a terminal, the last can be *live*: rewritten in place until a
    line of its own or ``finish`` ends it. A stream that fails turns it off, never the caller."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, enabled: bool = True) -> None:
        self.stream = stream
        isatty = getattr(stream, "isatty", None)
        self.tty = tty if tty is not None else callable(isatty) and bool(isatty())
        self.enabled = enabled
        self._live = False  # a line is on screen without its newline

    def rewrite(self, text: str, *, width: int | None = None) -> None:
        if self.enabled:
            self._write("\r\x1b[K" + printable(text)[:width])
            self._live = True

    def line(self, text: str) -> None:
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
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def describe(prediction: Prediction, *, elapsed: float | None = None, bar: bool = False) -> str:
    """One line about a task: its status, queue position, progress and ETA."""
    parts = [f"task {prediction.id}", prediction.status]
    if prediction.status == "waiting":
        ahead = prediction.queue_position
        parts[1] = "queued" if ahead is None else f"queued, {ahead} ahead"
    elif prediction.status == "running" and (progress := prediction.progress) is not None:
        filled = round(progress * 20)
        parts[1] = (
            f"running [{'#' * filled}{'.' * (20 - filled)}] {progress:4.0%}" if bar else f"running {progress:.0%}"
        )
    if not prediction.done and prediction.eta is not None and prediction.eta > 0:
        parts.append(f"ETA {_seconds(prediction.eta)}")
    if elapsed is not None:
        parts.append(f"elapsed {_seconds(elapsed)}")
    return " · ".join(parts)
