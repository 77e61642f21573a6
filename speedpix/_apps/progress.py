"""Terminal progress of a task: one line about it (``describe``) and a display that
rewrites it in place on a terminal, writes short lines to a log, or updates a notebook
cell (``ProgressDisplay``, the public :class:`speedpix.progress.ProgressDisplay`).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from .._flows.preview import NotebookProgress, in_notebook

# _flows/preview.py imports iter_output_files from here: drop this once it imports
# it from .saving (its home).
from .saving import iter_output_files as iter_output_files
from .terminal import LiveLine

if TYPE_CHECKING:
    from ..predictions import Prediction

__all__ = ["ProgressDisplay", "describe"]


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
    elif status == "running":
        progress = prediction.progress
        if progress is not None:
            if bar:
                filled = round(progress * 20)
                parts.append(f"running [{'#' * filled}{'.' * (20 - filled)}] {progress:4.0%}")
            else:
                parts.append(f"running {progress:.0%}")
        else:
            parts.append("running")
    else:
        parts.append(status)
    if not prediction.done and prediction.eta is not None and prediction.eta > 0:
        parts.append(f"ETA {_seconds(prediction.eta)}")
    if elapsed is not None:
        parts.append(f"elapsed {_seconds(elapsed)}")
    return " · ".join(parts)


class ProgressDisplay(LiveLine):
    """Shows a task's progress on ``stream`` (stderr by default).

    On a terminal it is one line rewritten in place (status, queue position, a bar, ETA);
    otherwise, plain lines, one per change of status or queue position and per 10% of
    progress, so logs stay short. In a Jupyter notebook (when no ``stream`` is given, or
    with ``notebook=True``) it is one output cell line with a progress bar, updated in
    place. Use it as the ``on_progress`` callback: ``run(..., on_progress=ProgressDisplay())``.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        enabled: bool = True,
        notebook: bool | None = None,
    ) -> None:
        in_jupyter = notebook if notebook is not None else stream is None and in_notebook()
        self._notebook = NotebookProgress() if in_jupyter else None
        super().__init__(stream if stream is not None else sys.stderr, tty=tty, enabled=enabled)
        self._started = time.monotonic()
        self._last_key: tuple[Any, ...] | None = None

    def __call__(self, prediction: Prediction) -> None:
        self.update(prediction)

    def update(self, prediction: Prediction) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._started
        if self._notebook is not None:
            self._notebook.update(prediction, elapsed)
            return
        if self.tty:
            line = describe(prediction, elapsed=elapsed, bar=True)
            self.rewrite(line, width=max(self._columns() - 1, 20))
            return
        decile = int((prediction.progress or 0.0) * 10) if prediction.status == "running" else None
        key = (prediction.status, prediction.queue_position, decile)
        if key != self._last_key:
            self._last_key = key
            self.line(describe(prediction, elapsed=elapsed))

    def _columns(self) -> int:
        """The terminal's width: a line that wraps cannot be rewritten in place."""
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return 80
        return columns if columns > 0 else 80  # 0: a terminal that does not say

    def message(self, text: str) -> None:
        """A line of its own (ends the live line first)."""
        if self._notebook is not None:
            if self.enabled:
                self._notebook.message(text)
            return
        self.line(text)
