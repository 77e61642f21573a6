"""``speedpix.progress.ProgressDisplay``: a task's progress on a terminal, in a log or a notebook cell."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from .notebook import NotebookProgress, in_notebook
from .terminal import LiveLine, describe

if TYPE_CHECKING:
    from ..predictions import Prediction


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
        elif self.tty:  # a line that wraps cannot be rewritten in place
            self.rewrite(describe(prediction, elapsed=elapsed, bar=True), width=max(self._columns() - 1, 20))
        else:
            decile = int((prediction.progress or 0.0) * 10) if prediction.status == "running" else None
            key = (prediction.status, prediction.queue_position, decile)
            if key != self._last_key:
                self._last_key = key
                self.line(describe(prediction, elapsed=elapsed))

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return 80
        return columns or 80  # 0: a terminal that does not say

    def message(self, text: str) -> None:
        """A line of its own (ends the live line first)."""
        if self._notebook is None:
            self.line(text)
        elif self.enabled:
            self._notebook.message(text)
