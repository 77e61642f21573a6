"""``DIR/journal.sqlite`` (a row per job, uploads to reuse), its reconciliation, the lock, ``results.jsonl``."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .._apps.saving import is_storage_url
from .._core.errors import InvalidInputError
from ..files import UploadRecord
from ._jobs import LOCK_NAME, BatchInputError, Job
from ._results import JobResult

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; documented
    fcntl = None  # type: ignore[assignment]


PENDING, SUBMITTING, SUBMITTED, DONE, FAILED, UNKNOWN = (
    "pending",
    "submitting",
    "submitted",
    "done",
    "failed",
    "unknown",
)

#: A job's status in results.jsonl and the report, by journal state ("incomplete" for the others).
STATUS_OF_STATE: Final = {DONE: "succeeded", FAILED: "failed", UNKNOWN: "unknown"}


@dataclass
class Row:
    id: str
    spec: str
    state: str
    task_id: str | None
    files: list[str]
    error: str | None
    error_code: str | None
    failure_kind: str | None
    #: Recorded at submission and at the end; empty in a journal of an older version.
    provenance: dict[str, Any]


# Columns added after the first release: an older journal gains them, NULL in its rows.
_ADDED_COLUMNS: Final = ("failure_kind", "sent", "finished")
_COLUMNS: Final = "id, spec, state, task_id, files, error, error_code, failure_kind, sent, finished"
# What a job starting over (Journal.restart) has none of: a task, an error, provenance.
_CLEARED: Final = dict.fromkeys(("task_id", "error", "error_code", "failure_kind", "sent", "finished"))


def _provenance(*texts: str | None) -> dict[str, Any]:
    """The JSON objects the runner wrote in the ``sent`` and ``finished`` columns, merged."""
    return {key: value for text in texts if text for key, value in json.loads(text).items()}


class Journal:
    """Every change its own committed transaction, on disk before the call returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # The uploads table was added after the first release: a journal without it gains it.
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL,
                task_id TEXT, outputs TEXT, files TEXT, error TEXT, error_code TEXT, updated_at REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS uploads (sha256 TEXT NOT NULL, size INTEGER NOT NULL,
                content_type TEXT NOT NULL, access_url TEXT NOT NULL, until REAL NOT NULL,
                PRIMARY KEY (sha256, size, content_type));
            """
        )
        present = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name in _ADDED_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def rows(self) -> dict[str, Row]:
        """Every row by id, in the order the jobs were first inserted (the jobs file's)."""
        with self._lock:
            cursor = self._db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY rowid")
            return {
                id: Row(id, spec, state, task, json.loads(files or "[]"), error, code, kind, _provenance(sent, end))
                for id, spec, state, task, files, error, code, kind, sent, end in cursor.fetchall()
            }

    def _execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def insert(self, jobs: Iterable[Job]) -> None:
        self._execute_many(
            "INSERT INTO jobs (id, spec, state, updated_at) VALUES (?, ?, ?, ?)",
            [(job.id, job.spec(), PENDING, time.time()) for job in jobs],
        )

    def uploads(self) -> list[UploadRecord]:
        """The uploads recorded by earlier runs (invalid rows skipped)."""
        with self._lock:
            rows = self._db.execute("SELECT sha256, size, content_type, access_url, until FROM uploads").fetchall()
        records = []
        for row in rows:
            with contextlib.suppress(InvalidInputError):
                records.append(UploadRecord(*row))
        return records

    def record_uploads(self, records: list[UploadRecord]) -> None:
        """A content's known upload is replaced only by one valid for longer."""
        if records:
            self._execute_many(
                """INSERT INTO uploads (sha256, size, content_type, access_url, until) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (sha256, size, content_type) DO UPDATE
                SET access_url = excluded.access_url, until = excluded.until
                WHERE excluded.until > uploads.until""",
                [(r.sha256, r.size, r.content_type, r.access_url, r.until) for r in records],
            )

    def update(self, job_id: str, **values: Any) -> None:
        values["updated_at"] = time.time()
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {columns} WHERE id = ?", [*values.values(), job_id])

    def restart(self, job_id: str, state: str, **values: Any) -> None:
        """The job starts over: no task, error or provenance."""
        self.update(job_id, **{**_CLEARED, **values}, state=state)


@contextlib.contextmanager
def exclusive(out_dir: Path) -> Iterator[None]:
    """One batch per directory at a time: two would submit the same pending jobs."""
    if fcntl is None:
        yield
        return
    with (out_dir / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BatchInputError(f"another speedpix batch is running in {out_dir}") from None
        yield  # closing the file releases the lock


def reconcile(
    jobs: list[Job], journal: Journal, *, resubmit_unknown: bool, retry_failed: bool, out_dir: Path
) -> dict[str, Row]:
    """Bring the journal in line with the jobs file and the last run's end."""
    rows = journal.rows()
    journal.insert(job for job in jobs if job.id not in rows)
    problems = []
    for job in jobs:
        row = rows.get(job.id)
        if row is None:
            continue
        resettable = row.state == PENDING or (row.state == FAILED and not row.task_id)
        if row.spec != job.spec() and not resettable:
            problems.append(
                f"job {job.id!r} (line {job.line}) differs from the one already run in {out_dir} "
                f"(state {row.state}{', task ' + row.task_id if row.task_id else ''}): give it a new id "
                "or use another output directory"
            )
            continue
        if row.state == SUBMITTING:
            message = (
                "the batch stopped while submitting this job: the task may or may not exist "
                "(check the console); rerun with --resubmit-unknown to submit it again"
            )
            journal.update(job.id, state=UNKNOWN, error=message)
        elif (row.state == UNKNOWN and resubmit_unknown) or resettable or (row.state == FAILED and retry_failed):
            journal.restart(job.id, PENDING, spec=job.spec())
    if problems:
        raise BatchInputError("\n".join(problems))
    return journal.rows()


def write_results(path: Path, jobs: list[Job], journal: Journal, out_dir: Path) -> list[JobResult]:
    """Each job's result as the journal has it now (a job not finished is ``incomplete``), written to ``path``."""
    rows = journal.rows()
    results = []
    for job in jobs:
        row = rows[job.id]
        done = row.state == DONE
        status = STATUS_OF_STATE.get(row.state, "incomplete")
        error = None if done else row.error
        if status == "incomplete" and error is None:
            error = "not finished; rerun to resume"
        files = [name if is_storage_url(name) else str((out_dir / name).resolve()) for name in row.files]
        kind = row.failure_kind if row.state == FAILED else None
        provenance = {key: value for key, value in row.provenance.items() if done or key != "outputs"}
        results.append(
            JobResult(job.id, status, row.task_id, files if done else [], error, row.error_code, kind, provenance)
        )
    write_atomically(path, "".join(json.dumps(result.to_dict(), ensure_ascii=False) + "\n" for result in results))
    return results


def write_atomically(path: Path, text: str) -> None:
    """A temporary file beside ``path``, flushed to disk, renamed over it."""
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # os.open with 0o666: the usual permissions (umask applied), unlike mkstemp's 0600.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
