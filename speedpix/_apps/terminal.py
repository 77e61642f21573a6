"""Text on a terminal (or on what stands for one: a log, a pipe)."""

from __future__ import annotations

from typing import TextIO

__all__ = ["LiveLine"]


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

    def rewrite(self, text: str) -> None:
        """Show ``text`` as the live line, in place of the one before (terminals only)."""
        if self.enabled:
            self._write("\r\x1b[K" + text)
            self._live = True

    def line(self, text: str) -> None:
        """A line of its own (ends the live line first)."""
        if self.enabled:
            self.finish()
            self._write(text + "\n")

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
