"""Jupyter: ``speedpix.show``'s gallery and a cell's progress bar, as plain HTML and text bundles."""

from __future__ import annotations

import html
import importlib
import sys
import time
from typing import Any

from .._core.names import shown_url
from .._flows.outputs import FileNode, FileOutput, iter_output_files
from .._flows.preview import MAX_INLINE_BYTES, preview, shown_name
from .._flows.tasks import Prediction
from .terminal import describe


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel; never imports IPython (a kernel has loaded it)."""
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return getattr(shell, "kernel", None) is not None


def _display(bundle: dict[str, str], **options: Any) -> Any:
    return importlib.import_module("IPython.display").display(bundle, raw=True, **options)


def _files(output: Any) -> list[tuple[str, FileOutput | FileNode]]:
    items: list[tuple[str, FileOutput | FileNode]] = []
    for item in iter_output_files(output.output if isinstance(output, Prediction) else output):
        obj = item.node if item.node is not None else item.file
        keys = " / ".join(str(key) for key in item.keys if key != "url")
        name = shown_name(obj.filename, obj.url)
        items.append((f"{keys} · {name}" if keys else name, obj))
    return items


def gallery_html(output: Any, *, max_bytes: int = MAX_INLINE_BYTES) -> str:
    tiles = [
        '<figure style="margin:0;width:200px;display:flex;flex-direction:column;gap:4px">'
        f"{preview(obj, max_bytes=max_bytes).html()}"
        f'<figcaption style="font-size:85%;opacity:.8;word-break:break-all">{html.escape(label)}</figcaption>'
        "</figure>"
        for label, obj in _files(output)
    ]
    if not tiles:
        return '<div class="speedpix-gallery"><em>no files in this output</em></div>'
    style = "display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start"
    return f'<div class="speedpix-gallery" style="{style}">{"".join(tiles)}</div>'


def gallery_text(output: Any) -> str:
    # Without the query: a presigned link's signature must not reach logs or exports.
    return "\n".join(f"{label}: {shown_url(obj.url)}" for label, obj in _files(output)) or "no files in this output"


def show(output: Any, *, max_bytes: int = MAX_INLINE_BYTES) -> None:
    """Show every file of a ``run()`` output (a dict or list of outputs, a ``Prediction``,
    or one ``FileOutput``/``FileNode``) as a small gallery in Jupyter; elsewhere, print
    one line per file.

    Images are fetched (at most ``max_bytes`` each, without credentials); videos and
    audio play from their links, which expire. Never raises for a file it cannot fetch.
    """
    if not in_notebook():
        print(gallery_text(output))
        return
    _display({"text/html": gallery_html(output, max_bytes=max_bytes), "text/plain": gallery_text(output)})


class NotebookProgress:
    """One output of the cell, updated in place (``display_id``): unlike a widget, saved with the notebook."""

    MIN_INTERVAL = 1.0  # seconds between updates that change only the elapsed time

    def __init__(self) -> None:
        self._handle: Any = None
        self._last_line: str | None = None
        self._last_time = 0.0

    def update(self, prediction: Prediction, elapsed: float) -> None:
        line = describe(prediction)
        now = time.monotonic()
        if line == self._last_line and now - self._last_time < self.MIN_INTERVAL:
            return
        self._last_line = line
        self._last_time = now
        bundle = progress_bundle(prediction, describe(prediction, elapsed=elapsed))
        try:
            if self._handle is None:
                self._handle = _display(bundle, display_id=True)
            else:
                self._handle.update(bundle, raw=True)
        except Exception:  # a broken frontend must not fail the task: progress is best-effort
            self._handle = None

    def message(self, text: str) -> None:
        _display({"text/plain": text})


def progress_bundle(prediction: Prediction, line: str) -> dict[str, str]:
    """The text/plain and text/html of a progress line."""
    status = prediction.status
    bar = '<progress max="1" style="width:12em"></progress>'  # indeterminate while queued
    if status == "running" and prediction.progress is not None:
        bar = f'<progress value="{prediction.progress:.3f}" max="1" style="width:12em"></progress>'
    elif status == "succeeded":
        bar = '<progress value="1" max="1" style="width:12em"></progress>'
    elif prediction.done:
        bar = "<span>✗</span>" if status == "failed" else ""
    style = "display:flex;gap:.6em;align-items:center;font-family:monospace"
    return {
        "text/plain": line,
        "text/html": f'<div class="speedpix-progress" style="{style}">{bar}<span>{html.escape(line)}</span></div>',
    }
