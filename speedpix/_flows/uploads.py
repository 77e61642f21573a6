"""Each input content uploaded once per client: :class:`Uploads` and :func:`shared_upload_flow`.

Uploads are keyed by a SHA-256 digest of the content (with its size and content type,
which the upload signs). A file on disk is hashed once while it stays the same file
(same path, size, modification time and inode). A finished upload is reused while
:func:`speedpix._core.reuse.reusable` says its link lives long enough; uploads of the
same content at the same time share one upload in flight — threads and event loops
alike, through a ``concurrent.futures.Future`` the others :class:`Wait` on. Nothing is
kept on disk: :meth:`Uploads.records` and :meth:`Uploads.load` hand the finished uploads
to whoever keeps them (a batch, in its journal) and take them back as
:class:`UploadRecord` values.
"""

from __future__ import annotations

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

# Digests of files on disk by (path, size, mtime_ns, inode): bounded, oldest dropped first.
_MAX_DIGESTS = 4096


@dataclass(frozen=True)
class UploadRecord:
    """A finished upload: its content's key (SHA-256 hex digest, size in bytes, content
    type), its ``access_url`` and until when (``until``, epoch seconds) that link is known
    to work. The link is presigned: the repr shows it without its query string."""

    sha256: str
    size: int
    content_type: str
    access_url: str
    until: float

    def __post_init__(self) -> None:
        texts = (self.sha256, self.content_type, self.access_url)
        size, until = self.size, self.until
        if (
            not all(isinstance(value, str) for value in texts)
            or isinstance(size, bool)
            or not isinstance(size, int)
            or size < 0
            or isinstance(until, bool)
            or not isinstance(until, int | float)
            or not math.isfinite(until)
        ):
            raise InvalidInputError(f"not a valid upload record: {self!r}")

    @property
    def key(self) -> Key:
        return (self.sha256, self.size, self.content_type)

    def __repr__(self) -> str:
        return (
            f"UploadRecord(sha256={self.sha256!r}, size={self.size!r}, content_type={self.content_type!r}, "
            f"access_url={shown_url(self.access_url)!r}, until={self.until!r})"
        )


@dataclass
class _Done:
    file: File
    until: float  # epoch seconds


class Uploads:
    """The uploads of one client (and its ``with_options`` copies); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[Key, _Done] = {}
        self._flying: dict[Key, Future[File]] = {}
        self._digests: dict[tuple[str, int, int, int], str] = {}

    def key(self, source: FileSource) -> Key:
        """The content's key (blocking: reads the content once, or not at all for a file
        on disk hashed before and unchanged since)."""
        identity = None
        if source.path is not None:
            info = os.stat(source.path)
            identity = (os.path.realpath(source.path), info.st_size, info.st_mtime_ns, info.st_ino)
            with self._lock:
                digest = self._digests.get(identity)
            if digest is not None:
                return (digest, source.size, source.content_type)
        hasher = hashlib.sha256()
        for chunk in source.iter_chunks():
            hasher.update(chunk)
        digest = hasher.hexdigest()
        if identity is not None:
            with self._lock:
                if len(self._digests) >= _MAX_DIGESTS:
                    self._digests.pop(next(iter(self._digests)))
                self._digests[identity] = digest
        return (digest, source.size, source.content_type)

    def claim(self, key: Key) -> tuple[File | Future[File], bool]:
        """A reusable upload of ``key``, or a future: someone else's upload in flight,
        or (``True``) a new one that the caller must upload, then :meth:`finish`."""
        with self._lock:
            done = self._done.get(key)
            if done is not None and reusable(done.until, time.time()):
                return done.file, False
            self._done.pop(key, None)
            flying = self._flying.get(key)
            if flying is not None:
                return flying, False
            mine: Future[File] = Future()
            self._flying[key] = mine
            return mine, True

    def records(self) -> list[UploadRecord]:
        """The finished uploads, each with its validity limit."""
        with self._lock:
            done = list(self._done.items())
        return [UploadRecord(*key, entry.file.access_url, entry.until) for key, entry in done]

    def load(self, entries: Iterable[tuple[Key, File, float]]) -> int:
        """Take finished uploads (key, file, until) made elsewhere, those still reusable
        and not already known for longer; how many were taken."""
        now = time.time()
        taken = 0
        with self._lock:
            for key, file, until in entries:
                known = self._done.get(key)
                if reusable(until, now) and (known is None or known.until < until):
                    self._done[key] = _Done(file, until)
                    taken += 1
        return taken

    def finish(self, key: Key, future: Future[File], file: File | None, error: BaseException | None) -> None:
        """Record the outcome of the caller's upload and hand it to those waiting."""
        with self._lock:
            if self._flying.get(key) is future:
                del self._flying[key]
            if file is not None:
                until = valid_until(file.expire_time, file.access_url)
                if until is not None:
                    self._done[key] = _Done(file, until)
        if file is not None:
            future.set_result(file)
        else:  # those waiting upload it themselves (a cancellation is not theirs to raise)
            future.set_exception(error if isinstance(error, Exception) else RuntimeError("upload abandoned"))


def shared_upload_flow(uploads: Uploads, source: FileSource, settings: CallSettings, upload: Flow[File]) -> Flow[File]:
    """``upload`` (the flow that uploads ``source``), unless the same content was
    uploaded already, or is being uploaded: then its file."""
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
        file_or_none: File | None = None
        error: BaseException | None = None
        try:
            file_or_none = yield from upload
            return file_or_none
        except BaseException as failure:  # cancelled or closed too: those waiting must not hang
            error = failure
            raise
        finally:
            uploads.finish(key, claimed, file_or_none, error)
    return (yield from upload)
