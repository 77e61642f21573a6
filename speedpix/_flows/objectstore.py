"""Saving outputs straight to object storage: any URL that fsspec knows (``s3://``,
``oss://``, ``gs://``, ``memory://``…), with the optional extra ``speedpix[storage]``.

fsspec is imported only when such a URL is given (``import speedpix`` never loads it).
The download is streamed chunk by chunk into the storage file, so memory stays constant
and nothing is copied to a local temporary file.

Atomicity relies on four fsspec operations every file system offers — ``open(.., "wb")``,
``write``, ``mv`` and ``rm`` — not on a file object's ``commit``/``discard``: fsspec's
files commit what was written when they are closed (``__exit__`` and ``__del__`` close
them), ``memory://`` ignores ``autocommit=False`` outside a transaction, and transactions
belong to a (cached, shared) file-system instance, so they cannot isolate one download
among concurrent ones (a failed file is still discarded where fsspec can: s3fs then aborts
its multipart upload). So the bytes go to a temporary name beside the target
(``.NAME.RANDOM.part``), which is moved (``fs.mv``: a server-side copy on S3) to the
final name only once the whole file was written, and removed on any failure: a failed
transfer leaves nothing under the final name, nor its temporary object.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._core.errors import ConfigurationError, FileTransferError, InvalidInputError
from .._core.names import shown_url
from .tally import SavedFile, Tally

# Two letters at least: "C://x" stays a Windows path.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+://")


def is_storage_url(path: object) -> bool:
    """Whether ``save(path)`` means object storage: a ``str`` starting with
    ``scheme://`` (a ``Path`` is always local, and so is a drive letter's ``C://``)."""
    return isinstance(path, str) and _URL.match(path) is not None


def _filesystem(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    """The fsspec file system of ``url`` and the path inside it; a typed error, naming
    what to install, when fsspec or the scheme's implementation is missing."""
    protocol = url.split("://", 1)[0].lower()
    shown = shown_url(url)  # no credentials (user:password@), no query
    try:
        import fsspec  # type: ignore[import-untyped]  # lazy: the optional extra, for storage URLs only
        from fsspec.registry import known_implementations  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigurationError(
            f"cannot save to {shown}: saving to object storage needs fsspec: pip install 'speedpix[storage]'"
        ) from None
    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as error:
        known = known_implementations.get(protocol, {})
        package = str(known.get("class", "")).split(".", 1)[0]
        hint = f": pip install {package}" if package and package != "fsspec" else ""
        reason = known.get("err") or str(error)
        raise ConfigurationError(f"cannot save to {shown}: {reason}{hint}") from None
    except ValueError as error:  # "Protocol not known"
        raise ConfigurationError(f"cannot save to {shown}: {error}") from None
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except (ImportError, ValueError, TypeError) as error:
        raise ConfigurationError(f"cannot save to {shown}: {type(error).__name__}: {error}") from None
    return fs, path


@dataclass(frozen=True)
class StorageTarget:
    """Where a save to a storage URL goes: the file system, the folder and the file name
    inside it (or, for :func:`speedpix._apps.saving.save_outputs`, a function choosing the
    name from the file's first bytes)."""

    fs: Any
    folder: str
    name: str | Callable[[bytes], str]

    def url(self, name: str) -> str:
        path = f"{self.folder}/{name}" if self.folder else name
        return self.fs.unstrip_protocol(path)  # type: ignore[no-any-return]


def storage_target(
    url: str, name: str | Callable[[bytes], str], storage_options: Mapping[str, Any] | None, *, folder: bool = False
) -> StorageTarget:
    """Resolve ``url`` like a local ``save()`` target: a URL ending in ``/``, or naming an
    existing folder (prefix), gets ``name`` appended. Raised before any download: a
    missing implementation (:class:`ConfigurationError`), a target that is a folder."""
    fs, path = _filesystem(url, storage_options)
    path, shown = path.rstrip("/"), shown_url(url)
    try:
        into = folder or url.endswith("/") or (bool(path) and bool(fs.isdir(path)))
    except Exception as error:
        raise _storage_failure(shown, error, during="looking at") from None
    if not into:
        if not path:
            raise InvalidInputError(f"cannot save to {shown}: give a file name or a folder ending in '/'")
        folder_path, _, file_name = path.rpartition("/")
        return StorageTarget(fs, folder_path, file_name)
    if isinstance(name, str):
        try:
            taken = fs.isdir(f"{path}/{name}" if path else name)
        except Exception as error:
            raise _storage_failure(shown, error, during="looking at") from None
        if taken:
            raise InvalidInputError(f"cannot save to {shown.rstrip('/')}/{name}: it is a folder. Give a file name.")
    return StorageTarget(fs, path, name)


def _storage_failure(
    target: str, error: BaseException, *, during: str, task_id: str | None = None
) -> FileTransferError:
    reason = str(error) or type(error).__name__
    return FileTransferError(f"{during} {target} failed: {type(error).__name__}: {reason}", task_id=task_id)


class StorageSink:
    """A download sink writing to object storage: chunks go to a temporary object beside
    the target, moved to the final name once complete, removed on any failure (see the
    module's docstring). ``url`` is the final URL once committed."""

    blocking = True

    def __init__(self, target: StorageTarget, *, task_id: str | None = None) -> None:
        self.target = target
        self.task_id = task_id
        self.url: str | None = None
        #: Once committed: the final URL, how many bytes, their SHA-256.
        self.saved: SavedFile | None = None
        self.tally = Tally()
        self._file: Any = None
        self._temporary: str | None = None

    def _failed(self, error: Exception, shown: str | None = None) -> FileTransferError:
        """Discard what was written; the error naming the target (``shown``, else its name)."""
        self.discard()
        shown = shown or self.target.url(self.target.name if isinstance(self.target.name, str) else "…")
        return _storage_failure(shown, error, during="saving to", task_id=self.task_id)

    def open(self) -> None:
        self.discard()
        label = self.target.name if isinstance(self.target.name, str) else "output"
        temporary = f".{label}.{secrets.token_hex(6)}.part"
        self._temporary = f"{self.target.folder}/{temporary}" if self.target.folder else temporary
        self.tally.reset()
        try:
            self._file = self.target.fs.open(self._temporary, "wb")
        except Exception as error:
            raise self._failed(error) from None

    def write(self, chunk: bytes) -> None:
        try:
            self._file.write(chunk)
        except Exception as error:
            raise self._failed(error) from None
        self.tally.add(chunk)

    def commit(self) -> None:
        name = self.target.name if isinstance(self.target.name, str) else self.target.name(self.tally.head)
        final = f"{self.target.folder}/{name}" if self.target.folder else name
        try:
            file, self._file = self._file, None
            file.close()  # uploads the rest: the temporary object is complete
            self.target.fs.mv(self._temporary, final)
        except Exception as error:
            raise self._failed(error, self.target.url(name)) from None
        self._temporary = None
        self.url = self.target.url(name)
        self.saved = self.tally.saved(self.url)

    def discard(self) -> None:
        file, self._file = self._file, None
        temporary, self._temporary = self._temporary, None
        if file is not None:
            with contextlib.suppress(Exception):
                _abandon(file)
        if temporary is not None:
            with contextlib.suppress(Exception):
                self.target.fs.rm(temporary)


def _abandon(file: Any) -> None:
    """Let go of an unfinished ``file`` uploading as little as possible: a buffered file
    (fsspec's AbstractBufferedFile: s3fs, gcsfs…) is discarded (s3fs aborts its multipart
    upload) and marked closed, so that neither ``close()`` nor ``__del__`` uploads the rest;
    any other file is closed. Either way the temporary object is removed afterwards."""
    from fsspec.spec import AbstractBufferedFile  # type: ignore[import-untyped]  # loaded already

    if isinstance(file, AbstractBufferedFile) and "r" not in file.mode:
        file.discard()
        file.closed = True
    else:
        file.close()
