"""Saving a task's output files into a folder, under readable, stable names.

Used by ``speedpix run -o`` and :mod:`speedpix.batch`; kept apart from the CLI so that
the batch runner can use it without importing the CLI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._core.mime import extension_for, guess_from_name, sniff_content_type
from .._flows.objectstore import is_storage_url, storage_target
from .._flows.outputs import NamedTarget, OutputItem, iter_output_files, save_named
from .._flows.tally import SavedFile

__all__ = [
    "OutputItem",
    "SavedFile",
    "check_storage_folder",
    "is_storage_url",
    "iter_output_files",
    "save_outputs",
    "save_outputs_to_storage",
]


def _extension_of(head: bytes, item: OutputItem) -> str:
    """The extension of the saved file: from its content type, sniffed from its first
    bytes (``head``); else from the name or format the result gives; else none."""
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


def save_outputs(output: Any, directory: str | os.PathLike[str], *, prefix: str = "") -> list[SavedFile]:
    """Save every file of a task's output into ``directory``; each file's path, size and
    SHA-256 (computed as the bytes streamed: no saved file is read back).

    Names are readable and stable: the output key, the index within a list, and the
    extension of the file's content type (``images.png``, ``images-0.png``…), sniffed from
    the first bytes as they pass. Each file is downloaded atomically, so an interrupted
    save never leaves a truncated file under its final name; saving again overwrites.
    """
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    return _save_all(output, prefix, lambda name: (target_dir, name))


def save_outputs_to_storage(
    output: Any, url: str, *, prefix: str = "", storage_options: Mapping[str, Any] | None = None
) -> list[SavedFile]:
    """:func:`save_outputs` into an fsspec URL (``s3://bucket/prefix``, a folder): the
    same names, each file streamed there atomically (see
    :mod:`speedpix._flows.objectstore`); their URLs (``SavedFile.path``), sizes and SHA-256."""
    # Each target is resolved (fsspec imported, the scheme's package checked) before its download.
    return _save_all(output, prefix, lambda name: storage_target(url, name, storage_options, folder=True))


def _save_all(output: Any, prefix: str, target: Callable[[Callable[[bytes], str]], NamedTarget]) -> list[SavedFile]:
    """Save every file of ``output`` to ``target(name_for)``, where ``name_for`` names it from its
    first bytes: its label and the extension of its content type (``images.png``), numbered
    (``images-2.png``) if taken already in this save."""
    used: set[str] = set()

    def namer(item: OutputItem) -> Callable[[bytes], str]:
        def name_for(head: bytes) -> str:
            base, extension = prefix + item.label, _extension_of(head, item)
            name, counter = base + extension, 1
            while name in used:
                counter += 1
                name = f"{base}-{counter}{extension}"
            used.add(name)
            return name

        return name_for

    return [save_named(item.file, target(namer(item))) for item in iter_output_files(output)]


def check_storage_folder(url: str, storage_options: Mapping[str, Any] | None = None) -> None:
    """Refuse, before a task is submitted, a storage URL that could not be saved into: no
    fsspec, no implementation of its scheme (a ConfigurationError naming the package).
    Nothing is sent to the storage."""
    storage_target(url, _unnamed, storage_options, folder=True)


def _unnamed(head: bytes) -> str:
    raise AssertionError("check_storage_folder saves nothing")
