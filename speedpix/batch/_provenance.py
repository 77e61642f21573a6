"""What ``results.jsonl`` says a job ran with and produced: its inputs as sent (local
files as path, size and SHA-256, never a URL's query), times in ISO 8601 UTC, and the
saved files with their checksums; and the kind of a failure."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from .._core.errors import (
    APIConnectionError,
    ContentModerationError,
    FileTransferError,
    InvalidInputError,
    PredictionError,
    ServerError,
    ServiceError,
)
from .._core.inputs import is_media_file_path
from .._core.names import shown_url
from ._jobs import Job, map_input

__all__ = ["FileHashes", "failure_kind", "redacted", "sent_record", "task_failure_kind", "utc_now"]

# The error codes by which the service says a task or a call was refused by its
# content-security check.
_MODERATION_CODES: Final = ("B_API_AuditFailed", "AuditFailed")


def utc_now() -> str:
    """Now, ISO 8601 in UTC with milliseconds: ``2026-12-06T07:01:02.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FileHashes:
    """Checksums of input files, each file read once per batch (many jobs share one)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def record(self, named: str) -> dict[str, Any]:
        """``{"path": named, "bytes": ..., "sha256": ...}`` of a local input file. (Saved
        outputs are never read back: their checksums are computed as they stream, see
        ``speedpix._flows.tally``.)"""
        path = Path(named).expanduser()
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            known = self._known.get(key)
        if known is None:
            with open(path, "rb") as stream:
                sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
                known = {"bytes": stream.tell(), "sha256": sha256}
            with self._lock:
                self._known[key] = known
        return {"path": named, **known}


def sent_record(job: Job, hashes: FileHashes, *, detect_file_paths: bool) -> dict[str, Any]:
    """What ``job`` is sent as, recorded with its submission: its workflow, version or alias
    (``"main"`` when it names neither: ``create()``'s default), resource configuration and
    inputs: each local file as ``{"path", "bytes", "sha256"}`` (the path as the job named
    it), ``{"$text": s}`` as ``s``, a URL without its query or credentials."""
    record: dict[str, Any] = {"workflow_id": job.workflow_id}
    version_id = job.options.get("version_id")
    if version_id is not None:
        record["version_id"] = version_id
    else:
        record["alias_id"] = job.options.get("alias_id") or "main"
    if job.resource_config_id is not None:
        record["resource_config_id"] = job.resource_config_id

    def leaf(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return hashes.record(value) if detect_file_paths and is_media_file_path(value) else redacted(value)

    record["inputs"] = map_input(job.input, file=hashes.record, text=str, leaf=leaf)
    return record


def redacted(value: Any) -> Any:
    """A task's output for the journal: every URL without its query or credentials (an
    output link's signature is in its query)."""
    if isinstance(value, dict):
        return {key: redacted(child) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(child) for child in value]
    if isinstance(value, str) and "://" in value[:16] and ("?" in value or "@" in value):
        return shown_url(value)
    return value


def task_failure_kind(error_code: str | None) -> str:
    """The kind of a task that ran and failed (its ``error_code``)."""
    if error_code and any(code in error_code for code in _MODERATION_CODES):
        return "content_moderation"
    return "task_failed"


def failure_kind(error: BaseException) -> str:
    """The kind (``speedpix.batch.FAILURE_KINDS``) of an error that failed a job."""
    if isinstance(error, ContentModerationError):
        return "content_moderation"
    if isinstance(error, PredictionError):
        return task_failure_kind(getattr(error.prediction, "error_code", None))
    if isinstance(error, InvalidInputError | ServiceError):
        return "invalid_input"
    if isinstance(error, APIConnectionError | FileTransferError | ServerError):
        return "unreachable"
    status = getattr(error, "status_code", None)
    if status in (400, 413, 422):
        return "invalid_input"
    return "other"
