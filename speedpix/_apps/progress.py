"""Helpers of the command line and the batch runner: a progress display on stderr and
saving a task's output files under readable names.

Kept apart from :mod:`speedpix.cli` so that :mod:`speedpix.batch` can use them without
importing the CLI.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._core.mime import SNIFF_BYTES, extension_for, guess_from_name, sniff_content_type
from .._core.names import first_safe_name, safe_name
from ..output import FileNode, FileOutput

if TYPE_CHECKING:
    from ..predictions import Prediction

__all__ = ["OutputFile", "ProgressDisplay", "describe", "iter_output_files", "save_outputs"]


# ---------------------------------------------------------------- progress


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


class ProgressDisplay:
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
        from .notebook import NotebookProgress, in_notebook

        in_jupyter = notebook if notebook is not None else stream is None and in_notebook()
        self._notebook = NotebookProgress() if in_jupyter else None
        self.stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty()) if callable(isatty) else False
        self.tty = tty
        self.enabled = enabled
        self._started = time.monotonic()
        self._live = False  # a line is on screen without its newline
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
            self._write("\r\x1b[K" + line[: max(self._columns() - 1, 20)])
            self._live = True
            return
        decile = int((prediction.progress or 0.0) * 10) if prediction.status == "running" else None
        key = (prediction.status, prediction.queue_position, decile)
        if key != self._last_key:
            self._last_key = key
            self._write(describe(prediction, elapsed=elapsed) + "\n")

    def _columns(self) -> int:
        """The terminal's width: a line that wraps cannot be rewritten in place."""
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return 80
        return columns if columns > 0 else 80  # 0: a terminal that does not say

    def message(self, text: str) -> None:
        """A line of its own (ends the live line first)."""
        if not self.enabled:
            return
        if self._notebook is not None:
            self._notebook.message(text)
            return
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


# ---------------------------------------------------------------- outputs


@dataclass(frozen=True)
class OutputFile:
    """A file in a task's output: where it is (``keys``) and how to fetch it."""

    keys: tuple[str | int, ...]
    file: FileOutput
    node: FileNode | None

    @property
    def label(self) -> str:
        """A readable base name: the output key, then the index in a list (``images-0``)."""
        keys = list(self.keys)
        if keys and keys[-1] == "url":
            keys.pop()
        return first_safe_name("-".join(word for key in keys if (word := safe_name(str(key)))))


def iter_output_files(value: Any, keys: tuple[str | int, ...] = ()) -> Iterator[OutputFile]:
    """Every output file of ``value`` (a task's output), in order."""
    if isinstance(value, FileNode):
        yield OutputFile(keys, value.file, value)
    elif isinstance(value, FileOutput):
        yield OutputFile(keys, value, None)
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from iter_output_files(child, (*keys, str(key)))
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from iter_output_files(child, (*keys, index))


def _extension(path: Path, item: OutputFile) -> str:
    """The extension of the saved file: from its content type, sniffed from its first
    bytes; else from the name or format the result gives; else none."""
    with path.open("rb") as stream:
        head = stream.read(SNIFF_BYTES)
    sniffed = sniff_content_type(head)
    if sniffed:
        return extension_for(sniffed)
    names = []
    if item.node is not None and isinstance(item.node.get("filename"), str):
        names.append(item.node["filename"])
    names.append(item.file.filename)
    for name in names:
        guessed = guess_from_name(name)
        if guessed:
            extension = extension_for(guessed)
            if extension:
                return extension
    fmt = item.node.get("format") if item.node is not None else None
    if isinstance(fmt, str) and re.fullmatch(r"[A-Za-z0-9]{1,8}", fmt):
        return "." + fmt.lower()
    for name in names:
        suffix = Path(name).suffix
        if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix):
            return suffix.lower()
    return ""


def save_outputs(output: Any, directory: str | os.PathLike[str], *, prefix: str = "") -> list[Path]:
    """Save every file of a task's output into ``directory`` and return the paths.

    Names are readable and stable: the output key, the index within a list, and the
    extension of the file's content type (``images.png``, ``images-0.png``…). Each
    file is downloaded atomically, so an interrupted save never leaves a truncated file
    under its final name; saving again overwrites.
    """
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    saved: list[Path] = []
    for item in iter_output_files(output):
        base = prefix + item.label
        partial = target_dir / f".{base}.part"
        item.file.save(partial)
        extension = _extension(partial, item)
        name, counter = base + extension, 1
        while name in used:
            counter += 1
            name = f"{base}-{counter}{extension}"
        used.add(name)
        final = target_dir / name
        os.replace(partial, final)
        saved.append(final)
    return saved
