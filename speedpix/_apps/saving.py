"""A task's output files saved under readable, stable names, for ``speedpix run -o`` and the batch."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._core.mime import extension_for, guess_from_name, sniff_content_type
from .._flows.objectstore import is_storage_url, storage_target
from .._flows.outputs import NamedTarget, OutputItem, iter_output_files, save_named
from .._flows.tally import SavedFile

__all__ = ["check_storage_folder", "is_storage_url", "iter_output_files", "save_outputs", "save_outputs_to_storage"]


def _extension_of(head: bytes, item: OutputItem) -> str:
    """From the content type sniffed from the first bytes, else from the result's names or format."""
    if sniffed := sniff_content_type(head):
        return extension_for(sniffed)
    node: Mapping[str, Any] = item.node or {}
    names = [name for name in (node.get("filename"), item.file.filename) if isinstance(name, str)]
    for extension in (extension_for(guess_from_name(name)) for name in names):
        if extension:
            return extension
    fmt = node.get("format")
    for suffix in ["." + fmt if isinstance(fmt, str) else "", *(Path(name).suffix for name in names)]:
        if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix):
            return suffix.lower()
    return ""


def save_outputs(output: Any, directory: str | os.PathLike[str], *, prefix: str = "") -> list[SavedFile]:
    """Save every file of a task's output into ``directory``, each atomically, under its output key,
    index in a list and the extension of its sniffed content type (``images-0.png``); each
    file's path, size and SHA-256 (computed as the bytes stream: no saved file is read back)."""
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    return _save_all(output, prefix, lambda name: (target_dir, name))


def save_outputs_to_storage(
    output: Any, url: str, *, prefix: str = "", storage_options: Mapping[str, Any] | None = None
) -> list[SavedFile]:
    """:func:`save_outputs` into an fsspec URL (``s3://bucket/prefix``); ``SavedFile.path`` is each file's URL."""
    return _save_all(output, prefix, lambda name: storage_target(url, name, storage_options, folder=True))


def _save_all(output: Any, prefix: str, target: Callable[[Callable[[bytes], str]], NamedTarget]) -> list[SavedFile]:
    """Save every file to ``target(name_for)``; ``name_for(first bytes)`` numbers a name taken already."""
    used: set[str] = set()

    def name_for(item: OutputItem, head: bytes) -> str:
        base, extension = prefix + item.label, _extension_of(head, item)
        name, counter = base + extension, 1
        while name in used:
            counter += 1
            name = f"{base}-{counter}{extension}"
        used.add(name)
        return name

    return [save_named(item.file, target(functools.partial(name_for, item))) for item in iter_output_files(output)]


def check_storage_folder(url: str, storage_options: Mapping[str, Any] | None = None) -> None:
    """Refuse a storage URL whose scheme fsspec cannot save into, before any task; nothing is sent."""
    storage_target(url, _unnamed, storage_options, folder=True)


def _unnamed(head: bytes) -> str:
    raise AssertionError("check_storage_folder saves nothing")
