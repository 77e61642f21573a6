"""Saving outputs to any URL fsspec knows (``s3://``, ``memory://``…; extra ``speedpix[storage]``),
atomically through ``open``/``write``/``mv``/``rm`` alone: fsspec's transactions are per shared instance."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from .._core.errors import ConfigurationError, FileTransferError, InvalidInputError
from .._core.names import shown_url
from .tally import FileSink

# Two letters at least: "C://x" stays a Windows path.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+://")


def is_storage_url(path: object) -> TypeGuard[str]:
    """Whether ``save(path)`` means object storage: a ``str`` starting with ``scheme://``."""
    return isinstance(path, str) and _URL.match(path) is not None


@dataclass(frozen=True)
class StorageTarget:
    """The file system, the folder in it and the file name (or a function of the first bytes)."""

    fs: Any
    folder: str
    name: str | Callable[[bytes], str]

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}" if self.folder else name

    def url(self, name: str) -> str:
        return self.fs.unstrip_protocol(self.path(name))  # type: ignore[no-any-return]


def storage_target(
    url: str, name: str | Callable[[bytes], str], storage_options: Mapping[str, Any] | None, *, folder: bool = False
) -> StorageTarget:
    """Resolve ``url`` like a local ``save()`` target (a folder gets ``name`` appended), refusing
    before any download a missing package (:class:`ConfigurationError`) or a folder as target."""
    shown = shown_url(url)  # no credentials (user:password@), no query
    try:
        import fsspec  # type: ignore[import-untyped]  # lazy: the optional extra, for storage URLs only
        from fsspec.registry import known_implementations  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigurationError(
            f"cannot save to {shown}: saving to object storage needs fsspec: pip install 'speedpix[storage]'"
        ) from None
    protocol = url.split("://", 1)[0].lower()
    try:
        fsspec.get_filesystem_class(protocol)
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as error:  # the scheme's package is missing: name it
        known = known_implementations.get(protocol, {})
        package = str(known.get("class", "")).split(".", 1)[0]
        hint = f": pip install {package}" if package and package != "fsspec" else ""
        raise ConfigurationError(f"cannot save to {shown}: {known.get('err') or error}{hint}") from None
    except (ValueError, TypeError) as error:  # e.g. "Protocol not known", a bad storage option
        raise ConfigurationError(f"cannot save to {shown}: {type(error).__name__}: {error}") from None
    path = path.rstrip("/")
    try:
        into = folder or url.endswith("/") or (bool(path) and bool(fs.isdir(path)))
        if into and isinstance(name, str) and fs.isdir(f"{path}/{name}" if path else name):
            raise InvalidInputError(f"cannot save to {shown.rstrip('/')}/{name}: it is a folder. Give a file name.")
    except InvalidInputError:
        raise
    except Exception as error:
        raise _storage_failure(shown, error, during="looking at") from None
    if into:
        return StorageTarget(fs, path, name)
    if not path:
        raise InvalidInputError(f"cannot save to {shown}: give a file name or a folder ending in '/'")
    folder_path, _, file_name = path.rpartition("/")
    return StorageTarget(fs, folder_path, file_name)


def _storage_failure(
    target: str, error: BaseException, *, during: str, task_id: str | None = None
) -> FileTransferError:
    reason = str(error) or type(error).__name__
    return FileTransferError(f"{during} {target} failed: {type(error).__name__}: {reason}", task_id=task_id)


class StorageSink(FileSink):
    """A save to object storage (a :class:`StorageTarget`), written atomically."""

    _errors = Exception
    target: StorageTarget

    def __init__(self, target: StorageTarget, *, task_id: str | None = None) -> None:
        super().__init__(target, target.name, task_id=task_id)

    def _create(self, part: str) -> tuple[str, Any]:
        self._part = self.target.path(part)  # removed by discard() even if open() fails midway
        return self._part, self.target.fs.open(self._part, "wb")

    def _move(self, part: str, name: str) -> str:
        self.target.fs.mv(part, self.target.path(name))
        return self.target.url(name)

    def _close(self, file: Any) -> None:
        # Let go uploading as little as possible: a buffered file (s3fs, gcsfs…) is
        # discarded (s3fs aborts its multipart upload) and marked closed, so that neither
        # close() nor __del__ uploads the rest.
        from fsspec.spec import AbstractBufferedFile  # type: ignore[import-untyped]  # loaded already

        if isinstance(file, AbstractBufferedFile) and "r" not in file.mode:
            file.discard()
            file.closed = True
        else:
            file.close()

    def _remove(self, part: str) -> None:
        self.target.fs.rm(part)

    def _failure(self, error: Exception, name: str | None) -> FileTransferError:
        return _storage_failure(self.target.url(name or "…"), error, during="saving to", task_id=self.task_id)
