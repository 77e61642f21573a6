"""What a save wrote, counted as the bytes passed (no saved file is ever read back), and
the atomic file sink both local and object-storage saves are."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core.errors import FileTransferError
from .._core.mime import SNIFF_BYTES


@dataclass(frozen=True)
class SavedFile:
    """A file a save wrote: where (a local ``Path``, or the final URL in object storage),
    its size and SHA-256, both computed from the bytes as they were written."""

    path: Path | str
    bytes: int
    sha256: str


class FileSink:
    """Saves ``name`` (or a name chosen from the first bytes) in the folder ``target`` via a
    ``.NAME.RANDOM.part`` moved into place once complete, removed on any failure."""

    blocking = True
    _errors: type[Exception] = OSError  # the file system's failures

    def __init__(self, target: Any, name: str | Callable[[bytes], str], *, task_id: str | None = None) -> None:
        self.target = target
        self.name = name
        self.task_id = task_id
        #: Once committed: where, how many bytes, their SHA-256.
        self.saved: SavedFile | None = None
        self._file: Any = None
        self._part: Any = None

    def _create(self, part: str) -> tuple[Any, Any]:
        self.target.mkdir(parents=True, exist_ok=True)
        # "x": created exclusively, mode 0o666 less the process umask, as any new file.
        return self.target / part, open(self.target / part, "xb")

    def _move(self, part: Any, name: str) -> Path | str:
        os.replace(part, self.target / name)
        return self.target / name  # type: ignore[no-any-return]

    def _close(self, file: Any) -> None:
        file.close()

    def _remove(self, part: Any) -> None:
        part.unlink(missing_ok=True)

    def _failure(self, error: Exception, name: str | None) -> FileTransferError:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return FileTransferError(
            f"saving to {self.target / name if name else self.target} failed: {reason}. Check that its folder is "
            "writable and has free space, or save somewhere else.",
            task_id=self.task_id,
        )

    def _failed(self, error: Exception, name: str | None = None) -> FileTransferError:
        self.discard()
        return self._failure(error, name if name is not None else self.name if isinstance(self.name, str) else None)

    def open(self) -> None:
        self.discard()
        self._size, self._digest, self._head = 0, hashlib.sha256(), b""
        label = self.name if isinstance(self.name, str) else "output"
        try:
            self._part, self._file = self._create(f".{label}.{secrets.token_hex(6)}.part")
        except self._errors as error:
            raise self._failed(error) from None

    def write(self, chunk: bytes) -> None:
        try:
            self._file.write(chunk)
        except self._errors as error:
            raise self._failed(error) from None
        if len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
        self._size += len(chunk)
        self._digest.update(chunk)

    def commit(self) -> None:
        name = self.name if isinstance(self.name, str) else self.name(self._head)
        try:
            file, self._file = self._file, None
            file.close()  # flushes (or uploads) the rest: the part is complete
            final = self._move(self._part, name)
        except self._errors as error:
            raise self._failed(error, name) from None
        self._part = None
        self.saved = SavedFile(final, self._size, self._digest.hexdigest())

    def discard(self) -> None:
        file, self._file = self._file, None
        part, self._part = self._part, None
        if file is not None:
            with contextlib.suppress(Exception):
                self._close(file)
        if part is not None:
            with contextlib.suppress(Exception):
                self._remove(part)
