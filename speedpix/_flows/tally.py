"""What a save wrote, counted as the bytes passed: the size and SHA-256 of every saved
file (``results.jsonl``'s output checksums), and its first bytes (to choose its
extension), so that no saved file is ever read back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .._core.mime import SNIFF_BYTES

__all__ = ["SavedFile", "Tally"]


@dataclass(frozen=True)
class SavedFile:
    """A file a save wrote: where (a local ``Path``, or the final URL in object storage),
    its size and SHA-256, both computed from the bytes as they were written (never read
    back)."""

    path: Path | str
    bytes: int
    sha256: str


class Tally:
    """What passed through a sink, counted as it passed: the size, the SHA-256 and the
    first bytes (to sniff the content type). ``reset()`` on each (re)opened attempt."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.size = 0
        self.digest = hashlib.sha256()
        self.head = b""

    def add(self, chunk: bytes) -> None:
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
        self.size += len(chunk)
        self.digest.update(chunk)

    def saved(self, path: Path | str) -> SavedFile:
        return SavedFile(path, self.size, self.digest.hexdigest())
