"""Each input content (SHA-256, size, content type) uploaded once per client: reused while its link
lives long enough; concurrent uploads of it share one. Kept in memory only (a batch journals records)."""

from __future__ import annotations

import functools
import hashlib
import math
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core.effects import Blocking, Flow, Wait
from .._core.errors import APITimeoutError, InvalidInputError
from .._core.inputs import FileSource
from .._core.names import shown_url
from .._core.retry import CallSettings
from .._core.reuse import reusable, valid_until

if TYPE_CHECKING:
    from .transfers import File  # a File is made by the upload flow, never here

Key = tuple[str, int, str]  # sha256, size, content type


@dataclass(frozen=True)
class UploadRecord:
    """A finished upload: its content's key (SHA-256 hex digest, size in bytes, content
    type), its presigned ``access_url`` (shown without its query) and until when (``until``,
    epoch seconds) that link is known to work."""

    sha256: str
    size: int
    content_type: str
    access_url: str
    until: float

    def __post_init__(self) -> None:
        texts_ok = all(isinstance(value, str) for value in (self.sha256, self.content_type, self.access_url))
        size, until = self.size, self.until
        size_ok = isinstance(size, int) and not isinstance(size, bool) and size >= 0
        until_ok = isinstance(until, int | float) and not isinstance(until, bool) and math.isfinite(until)
        if not (texts_ok and size_ok and until_ok):
            raise InvalidInputError(f"not a valid upload record: {self!r}")

    @property
    def key(self) -> Key:
        return (self.sha256, self.size, self.content_type)

    def __repr__(self) -> str:
        return (
            f"UploadRecord(sha256={self.sha256!r}, size={self.size!r}, content_type={self.content_type!r}, "
            f"access_url={shown_url(self.access_url)!r}, until={self.until!r})"
        )


class Uploads:
    """The uploads of one client (and its ``with_options`` copies); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[Key, tuple[File, float]] = {}  # and until when (epoch seconds)
        self._flying: dict[Key, Future[File]] = {}

    def key(self, source: FileSource) -> Key:
        """The content's key (blocking: reads the content, unless a file on disk unchanged since hashed)."""
        if source.path is not None:
            return (file_sha256(source.path)[0], source.size, source.content_type)
        hasher = hashlib.sha256()
        for chunk in source.iter_chunks():
            hasher.update(chunk)
        return (hasher.hexdigest(), source.size, source.content_type)

    def claim(self, key: Key) -> tuple[File | Future[File], bool]:
        """A reusable upload of ``key``, another's in flight, or (``True``) one the caller must :meth:`finish`."""
        with self._lock:
            done = self._done.get(key)
            if done is not None and reusable(done[1], time.time()):
                return done[0], False
            self._done.pop(key, None)
            flying = self._flying.get(key)
            if flying is not None:
                return flying, False
            mine: Future[File] = Future()
            self._flying[key] = mine
            return mine, True

    def records(self) -> list[UploadRecord]:
        with self._lock:
            done = list(self._done.items())
        return [UploadRecord(*key, file.access_url, until) for key, (file, until) in done]

    def load(self, entries: Iterable[tuple[Key, File, float]]) -> int:
        """Take the finished uploads made elsewhere still reusable and not known for longer; how many."""
        now = time.time()
        taken = 0
        with self._lock:
            for key, file, until in entries:
                known = self._done.get(key)
                if reusable(until, now) and (known is None or known[1] < until):
                    self._done[key] = (file, until)
                    taken += 1
        return taken

    def finish(self, key: Key, future: Future[File], outcome: File | BaseException) -> None:
        """Record the outcome of the caller's upload and hand it to those waiting."""
        with self._lock:
            if self._flying.get(key) is future:
                del self._flying[key]
            if not isinstance(outcome, BaseException):
                until = valid_until(outcome.expire_time, outcome.access_url)
                if until is not None:
                    self._done[key] = (outcome, until)
        if not isinstance(outcome, BaseException):
            future.set_result(outcome)
        else:  # those waiting upload it themselves (a cancellation is not theirs to raise)
            future.set_exception(outcome if isinstance(outcome, Exception) else RuntimeError("upload abandoned"))


@functools.lru_cache(maxsize=4096)
def _file_digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    """A file's SHA-256, kept while the file stays the same (path, size, modification time, inode)."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def file_sha256(path: str) -> tuple[str, int]:
    """A file's SHA-256 and size, read once while its path, size, modification time and inode stay
    the same (blocking): for the upload key and for a batch's provenance alike."""
    info = os.stat(path)
    return _file_digest(os.path.realpath(path), info.st_size, info.st_mtime_ns, info.st_ino), info.st_size


def shared_upload_flow(uploads: Uploads, source: FileSource, settings: CallSettings, upload: Flow[File]) -> Flow[File]:
    """``upload`` (of ``source``), unless the same content was uploaded already or is being uploaded."""
    key: Key = yield Blocking(lambda: uploads.key(source))
    for _ in range(3):  # an upload we waited for failed: try again, ourselves if need be
        claimed, mine = uploads.claim(key)
        if not isinstance(claimed, Future):
            return claimed
        if not mine:
            try:
                file: File = yield Wait(claimed, settings.deadline)
            except TimeoutError:
                raise APITimeoutError(
                    f"uploading {source.name} timed out: the call's timeout passed while the same content was "
                    "being uploaded for another call.",
                    request_sent=False,
                ) from None
            except Exception:
                continue
            return file
        try:
            file = yield from upload
        except BaseException as failure:  # cancelled or closed too: those waiting must not hang
            uploads.finish(key, claimed, failure)
            raise
        uploads.finish(key, claimed, file)
        return file
    return (yield from upload)
