"""Crash-safe batches: run many jobs, kill the process at any moment, run it again.

::

    from speedpix import Client
    from speedpix.batch import run_batch

    summary = run_batch("jobs.jsonl", "out", client=Client(), concurrency=4)
    print(summary.count_line())

Each line of the jobs file is ``{"id": "...", "workflow_id": "...", "input": {...}}``
with optional ``resource_config_id`` and any optional field of the API spec's
``comfy_prompt`` request (``alias_id``, ``version_id``, ``randomise_seeds``, ...).

**Files in inputs.** ``{"$file": "photos/17.jpg"}`` in place of a value is a local file
(relative paths are read from the current directory), uploaded before its job is
submitted, as ``-i key=@file`` is for ``speedpix run``; ``{"$text": "..."}`` is a string
sent as it is. A plain string is a file when it names an existing image/audio/video
file, as everywhere in the SDK; a plain string that *looks* like one (it ends in a media
extension: ``.jpg``, ``.png``, ``.mp4``…) but names no file is refused, since it is
most likely a typo that would fail, billed, on the service. Every such problem is
reported, by line, before anything is submitted. With a client made with
``detect_file_paths=False`` (``--strings-as-text``) plain strings are always text.

**The journal.** ``DIR/journal.sqlite`` (WAL, ``synchronous=FULL``) has one row per job.
A job goes ``pending`` → ``submitting`` (committed *before* the task is submitted) →
``submitted`` with its task id (committed right after) → ``done`` (files saved) or
``failed``. A rerun therefore never submits a job whose task id is known: it follows the
task by id; and a finished job is never run again.

**The one ambiguous case.** A job found in ``submitting`` on a rerun was being submitted
when the process died: the task may or may not exist (the API cannot look tasks up by
anything but their id). Such a job becomes ``unknown`` and is *not* submitted again,
because that could pay for it twice; ``resubmit_unknown=True`` (``--resubmit-unknown``)
submits it anyway. The window is small: the time of one submit call.

Other rules: a job whose submission was refused (bad input, unknown workflow, bad
credentials…) or whose input files could not be uploaded created no task (the
creation flow says so: ``SpeedPixException.task_may_exist``) and is retried on the
next run; a job whose *task* failed
stays failed unless ``retry_failed=True``; a job whose wait timed out or was cut short
by a network error is followed again on the next run. Retries of individual calls are
the client's (its ``max_retries``); there is no second layer here, except for
throttling, which is the batch's own (below).

**Throttling.** The account's quota is usually the limit, and unpublished. The batch
starts at ``concurrency`` jobs at once; a submission throttled by the service
(``RateLimitError``: 403 ``Throttled…``, 429, ``B_API_CauseFlowControl``) lowers it and
successful ones raise it again, never above ``concurrency`` (AIMD, see ``_adaptive``).
The throttled job is not failed: it waits (``Retry-After`` if given, else a growing
delay) and is submitted again; only after 10 throttles in a row it is ``failed``, with
no task, so the next run submits it. Progress lines and the summary show the
concurrency in use.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO, cast

from speedpix_api.api.predictions import ComfyPromptRequestOptions

from ._core.adaptive import AdaptiveLimit
from ._core.errors import InvalidInputError, PredictionTimeoutError, RateLimitError
from ._core.inputs import _has_media_name, is_media_file_path
from ._core.logging import logger
from ._core.retry import RetryPolicy, retry_delay
from ._core.validate import request_options

if TYPE_CHECKING:
    from .client import Client
    from .predictions import Prediction

__all__ = [
    "BatchEvent",
    "BatchInputError",
    "BatchSummary",
    "Job",
    "JobResult",
    "load_jobs",
    "run_batch",
]

JOURNAL_NAME: Final = "journal.sqlite"
RESULTS_NAME: Final = "results.jsonl"
LOCK_NAME: Final = ".batch.lock"

PENDING, SUBMITTING, SUBMITTED, DONE, FAILED, UNKNOWN = (
    "pending",
    "submitting",
    "submitted",
    "done",
    "failed",
    "unknown",
)

# Besides these, a line may carry any optional field of the spec's comfy_prompt request
# (ComfyPromptRequestOptions: alias_id, version_id, randomise_seeds, ...).
_JOB_KEYS: Final = frozenset({"id", "workflow_id", "input", "resource_config_id"})
_RESERVED_IDS: Final = frozenset({JOURNAL_NAME, f"{JOURNAL_NAME}-wal", f"{JOURNAL_NAME}-shm", RESULTS_NAME})
_BAD_ID: Final = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
# In a job's input, {"$file": path} is a local file and {"$text": string} a string sent
# as it is: single-key objects whose "$" keys no workflow input uses.
FILE_KEY: Final = "$file"
TEXT_KEY: Final = "$text"


class BatchInputError(InvalidInputError):
    """The jobs file (or the output directory) cannot be used; nothing was submitted."""


# ---------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    """One line of the jobs file."""

    id: str
    workflow_id: str
    input: dict[str, Any]
    options: ComfyPromptRequestOptions = field(default_factory=lambda: ComfyPromptRequestOptions())
    resource_config_id: str | None = None
    line: int = 0

    def spec(self) -> str:
        """The job's content, canonical: a rerun compares it with the journal's copy."""
        data: dict[str, Any] = {"workflow_id": self.workflow_id, "input": self.input, **self.options}
        if self.resource_config_id is not None:
            data["resource_config_id"] = self.resource_config_id
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class _Text(str):
    """A ``{"$text": ...}`` string: the client sends a ``str`` subclass as text, never as a file."""


def _marker(value: dict[str, Any]) -> str | None:
    """FILE_KEY or TEXT_KEY when ``value`` is one of the two escapes, else None."""
    keys = {FILE_KEY, TEXT_KEY} & set(value)
    if not keys:
        return None
    if len(value) != 1:
        raise ValueError(f"{{{next(iter(keys))!r}: ...}} takes no other key, got {sorted(value)}")
    key = next(iter(keys))
    if not isinstance(value[key], str) or not value[key]:
        raise ValueError(f'{{"{key}": ...}} needs a non-empty string, got {value[key]!r}')
    return key


def _file_problems(value: Any, where: str, *, detect_file_paths: bool) -> Iterator[str]:
    """What is wrong with the files an input names (the file system is read)."""
    if isinstance(value, dict):
        try:
            key = _marker(value)
        except ValueError as error:
            yield f"{where}: {error}"
            return
        if key == FILE_KEY:
            path = Path(value[FILE_KEY]).expanduser()
            if not path.is_file():
                problem = "is not a regular file" if path.exists() else "no such file"
                yield f"{where}: {problem}: {value[FILE_KEY]} (relative paths are read from {Path.cwd()})"
            elif path.stat().st_size == 0:
                yield f"{where}: {value[FILE_KEY]} is empty (0 bytes)"
        elif key is None:
            for name, child in value.items():
                yield from _file_problems(child, f"{where}[{name!r}]", detect_file_paths=detect_file_paths)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _file_problems(child, f"{where}[{index}]", detect_file_paths=detect_file_paths)
    elif isinstance(value, str) and detect_file_paths and _has_media_name(value) and not is_media_file_path(value):
        quoted = json.dumps(value, ensure_ascii=False)
        yield (
            f"{where}: {quoted} looks like a media file name but no such file exists (relative paths are read "
            f'from {Path.cwd()}). For a local file, fix the path or write {{"{FILE_KEY}": {quoted}}}; to send '
            f'the string as it is, write {{"{TEXT_KEY}": {quoted}}} (or use --strings-as-text)'
        )


def _job_input(job: Job) -> dict[str, Any]:
    """The input to submit for ``job``: ``{"$file": p}`` becomes ``Path(p)``, ``{"$text": s}`` a string
    sent as text."""

    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            key = _marker(value)
            if key == FILE_KEY:
                return Path(value[FILE_KEY]).expanduser()
            if key == TEXT_KEY:
                return _Text(value[TEXT_KEY])
            return {name: decode(child) for name, child in value.items()}
        if isinstance(value, list):
            return [decode(child) for child in value]
        return value

    decoded: dict[str, Any] = decode(job.input)
    return decoded


def _check_job(data: Any, line: int, *, detect_file_paths: bool = True) -> Job:
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    allowed = _JOB_KEYS | ComfyPromptRequestOptions.__optional_keys__
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))})")
    job_id = data.get("id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise ValueError('"id" must be a non-empty string')
    if (
        _BAD_ID.search(job_id)
        or job_id.startswith(".")
        or job_id != job_id.strip()
        or len(job_id) > 128
        or job_id in _RESERVED_IDS
    ):
        raise ValueError(
            f'"id" {job_id!r} cannot name a directory: use at most 128 characters, no leading dot or '
            'spaces, none of / \\ : * ? " < > |'
        )
    workflow_id = data.get("workflow_id")
    if not isinstance(workflow_id, str) or not workflow_id.strip():
        raise ValueError('"workflow_id" must be a non-empty string')
    inputs = data.get("input", {})
    if not isinstance(inputs, dict):
        raise ValueError(f'"input" must be a JSON object, got {type(inputs).__name__}')
    problems = list(_file_problems(inputs, "input", detect_file_paths=detect_file_paths))
    if problems:
        raise ValueError("; ".join(problems))
    resource_config_id = data.get("resource_config_id")
    if resource_config_id is not None and (not isinstance(resource_config_id, str) or not resource_config_id.strip()):
        raise ValueError('"resource_config_id" must be a non-empty string when given')
    options = cast(
        ComfyPromptRequestOptions,
        {key: value for key, value in data.items() if key in ComfyPromptRequestOptions.__optional_keys__},
    )
    try:
        request_options(options)  # the checks create() makes, before anything is submitted
    except InvalidInputError as error:
        raise ValueError(str(error)) from None
    return Job(
        id=job_id,
        workflow_id=workflow_id,
        input=inputs,
        options=options,
        resource_config_id=resource_config_id,
        line=line,
    )


def _lines(source: str | os.PathLike[str] | TextIO | Iterable[Any]) -> Iterator[tuple[int, Any, str]]:
    """(line number, parsed object or raw line, where) for every non-blank entry."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            with path.open(encoding="utf-8") as stream:
                for number, text in enumerate(stream, 1):
                    if text.strip():
                        yield number, text, str(path)
        except FileNotFoundError:
            raise BatchInputError(f"jobs file not found: {path}") from None
        except UnicodeDecodeError as error:
            raise BatchInputError(f"{path}: not UTF-8 text ({error.reason})") from None
        except IsADirectoryError:
            raise BatchInputError(f"{path} is a directory, not a jobs file") from None
        return
    where = getattr(source, "name", None) if isinstance(source, io.IOBase) else None
    for number, item in enumerate(source, 1):
        if isinstance(item, str) and not item.strip():
            continue
        yield number, item, str(where or "jobs")


def load_jobs(source: str | os.PathLike[str] | TextIO | Iterable[Any], *, detect_file_paths: bool = True) -> list[Job]:
    """Read and validate every job first; :class:`BatchInputError` lists what is wrong,
    by line number. ``source`` is a path, an open text file, or an iterable of JSON
    lines or dicts. Files named in inputs must exist (see the module doc);
    ``detect_file_paths=False``: plain strings are text, never checked as files."""
    jobs: list[Job] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, item, where in _lines(source):
        try:
            data = json.loads(item) if isinstance(item, str | bytes) else item
        except ValueError as error:
            problems.append(f"{where} line {number}: not valid JSON ({error})")
            continue
        try:
            job = _check_job(data, number, detect_file_paths=detect_file_paths)
        except ValueError as error:
            problems.append(f"{where} line {number}: {error}")
            continue
        if job.id in seen:
            problems.append(f"{where} line {number}: duplicate id {job.id!r} (first on line {seen[job.id]})")
            continue
        seen[job.id] = number
        jobs.append(job)
    if problems:
        shown = problems[:20]
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise BatchInputError(f"invalid jobs ({len(problems)}):\n" + "\n".join(shown) + more)
    if not jobs:
        raise BatchInputError("the jobs file has no jobs")
    return jobs


# ---------------------------------------------------------------- journal


@dataclass
class _Row:
    id: str
    spec: str
    state: str
    task_id: str | None
    files: list[str]
    error: str | None
    error_code: str | None


class Journal:
    """The batch's durable record: one row per job, every change its own committed
    transaction (WAL, ``synchronous=FULL``: on disk before the call returns)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS jobs (
                id TEXT PRIMARY KEY,
                spec TEXT NOT NULL,
                state TEXT NOT NULL,
                task_id TEXT,
                outputs TEXT,
                files TEXT,
                error TEXT,
                error_code TEXT,
                updated_at REAL NOT NULL
            )"""
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def rows(self) -> dict[str, _Row]:
        with self._lock:
            cursor = self._db.execute("SELECT id, spec, state, task_id, files, error, error_code FROM jobs")
            return {
                row[0]: _Row(row[0], row[1], row[2], row[3], json.loads(row[4]) if row[4] else [], row[5], row[6])
                for row in cursor.fetchall()
            }

    def insert(self, jobs: Iterable[Job]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO jobs (id, spec, state, updated_at) VALUES (?, ?, ?, ?)",
                    [(job.id, job.spec(), PENDING, time.time()) for job in jobs],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def update(self, job_id: str, **values: Any) -> None:
        """Set columns of one job in one committed transaction."""
        values["updated_at"] = time.time()
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {columns} WHERE id = ?", [*values.values(), job_id])


# ---------------------------------------------------------------- results and events


@dataclass(frozen=True)
class JobResult:
    """One line of ``results.jsonl``. ``status`` is ``succeeded``, ``failed``,
    ``unknown`` (submission in doubt, see the module doc) or ``incomplete`` (not
    finished in this run: rerun to resume)."""

    id: str
    status: str
    task_id: str | None
    files: list[str]
    error: str | None
    error_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "task_id": self.task_id,
            "files": self.files,
            "error": self.error,
            "error_code": self.error_code,
        }


_STATUS_OF_STATE: Final = {DONE: "succeeded", FAILED: "failed", UNKNOWN: "unknown"}


@dataclass(frozen=True)
class BatchSummary:
    results: list[JobResult]
    output_dir: Path
    results_path: Path
    journal_path: Path
    elapsed: float = 0.0
    #: Jobs at once at the end, the lowest it went, and the maximum it was given.
    concurrency: int = 0
    lowest_concurrency: int = 0
    max_concurrency: int = 0
    #: Submissions refused by throttling (each was submitted again later).
    throttled: int = 0

    def _count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def succeeded(self) -> int:
        return self._count("succeeded")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def unknown(self) -> int:
        return self._count("unknown")

    @property
    def incomplete(self) -> int:
        return self._count("incomplete")

    @property
    def ok(self) -> bool:
        return self.succeeded == self.total

    def count_line(self) -> str:
        line = f"{self.succeeded}/{self.total} succeeded, {self.failed} failed"
        if self.unknown:
            line += f", {self.unknown} unknown (see --resubmit-unknown)"
        if self.incomplete:
            line += f", {self.incomplete} incomplete (rerun to resume)"
        line += f" in {self.elapsed:.1f}s; concurrency {self.concurrency}"
        if self.throttled:
            line += (
                f" (throttled {self.throttled}x: lowered from {self.max_concurrency}, "
                f"to {self.lowest_concurrency} at the lowest)"
            )
        return line + f"; results in {self.results_path}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "unknown": self.unknown,
            "incomplete": self.incomplete,
            "concurrency": self.concurrency,
            "lowest_concurrency": self.lowest_concurrency,
            "max_concurrency": self.max_concurrency,
            "throttled": self.throttled,
            "results_path": str(self.results_path),
            "output_dir": str(self.output_dir),
        }


@dataclass(frozen=True)
class BatchEvent:
    """What ``on_event`` receives: a job changed state. ``kind`` is ``submitted``,
    ``resumed``, ``succeeded``, ``failed``, ``unknown``, ``incomplete`` or ``skipped``
    (finished in an earlier run). The counts are of the whole batch, after the event."""

    kind: str
    job_id: str
    task_id: str | None = None
    message: str | None = None
    total: int = 0
    finished: int = 0
    succeeded: int = 0
    failed: int = 0
    running: int = 0
    #: Jobs allowed at once now (lowered by throttling), and the maximum given.
    concurrency: int = 0
    max_concurrency: int = 0

    def describe(self) -> str:
        head = f"[{self.finished}/{self.total} done, {self.failed} failed, {self.running} running"
        if self.concurrency < self.max_concurrency:
            head += f", concurrency {self.concurrency}/{self.max_concurrency} (throttled)"
        head += "]"
        text = f"{head} {self.job_id}: {self.kind}"
        if self.task_id:
            text += f" (task {self.task_id})"
        if self.message:
            text += f": {self.message}"
        return text


@dataclass
class _Counts:
    total: int
    succeeded: int = 0
    failed: int = 0
    other: int = 0  # unknown/incomplete: finished for this run
    running: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


# ---------------------------------------------------------------- the runner


def _error_text(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _error_code(error: BaseException) -> str | None:
    """The service's most specific code, as for a failed task (``Prediction.error_code``)."""
    return getattr(error, "sub_err_code", None) or getattr(error, "err_code", None)


# How long a throttled job waits before it is submitted again: Retry-After if the
# service gives one, else from 0.5 s doubling to 8 s (jittered); after 10 in a row the
# job is failed (no task exists, so the next run submits it).
_THROTTLE_WAITS: Final = RetryPolicy(max_retries=10)


class _Throttled(Exception):
    def __init__(self, error: RateLimitError) -> None:
        super().__init__(str(error))
        self.error = error


class _Gate:
    """At most ``limit.current`` jobs at once: a semaphore whose size the service's
    throttling sets (see _adaptive)."""

    def __init__(self, maximum: int) -> None:
        self.limit = AdaptiveLimit(maximum)
        self.in_flight = 0
        self._changed = threading.Condition()

    def enter(self, stop: threading.Event) -> bool:
        """Wait for a free slot; False if the batch is stopping."""
        with self._changed:
            while self.in_flight >= self.limit.current and not stop.is_set():
                self._changed.wait(0.2)
            if stop.is_set():
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify()

    def submitted(self) -> None:
        with self._changed:
            before = self.limit.current
            self.limit.on_success(self.in_flight)
            if self.limit.current > before:
                self._changed.notify()

    def throttled(self, started_at: float) -> None:
        with self._changed:
            before = self.limit.current
            self.limit.on_throttle(started_at, time.monotonic())
            if self.limit.current < before:
                logger.info("batch throttled: %d jobs at once now (was %d)", self.limit.current, before)


class _Runner:
    def __init__(
        self,
        jobs: list[Job],
        out_dir: Path,
        journal: Journal,
        client: Client,
        timeout: float | None,
        on_event: Callable[[BatchEvent], Any] | None,
        concurrency: int = 4,
    ) -> None:
        self.jobs = jobs
        self.out_dir = out_dir
        self.journal = journal
        self.client = client
        # Submissions raise throttling at once: the gate paces them, not client retries.
        self.submitter = client.with_options(retry_throttled=False)
        self.timeout = timeout
        self.on_event = on_event
        self.stop = threading.Event()
        self.counts = _Counts(total=len(jobs))
        self.gate = _Gate(concurrency)
        self._event_lock = threading.Lock()

    # events

    def emit(self, kind: str, job: Job, task_id: str | None = None, message: str | None = None) -> None:
        counts = self.counts
        with counts.lock:
            if kind in ("submitted", "resumed"):
                counts.running.add(job.id)
            else:
                counts.running.discard(job.id)
                if kind in ("succeeded", "skipped"):
                    counts.succeeded += 1
                elif kind == "failed":
                    counts.failed += 1
                else:
                    counts.other += 1
            event = BatchEvent(
                kind,
                job.id,
                task_id,
                message,
                total=counts.total,
                finished=counts.succeeded + counts.failed + counts.other,
                succeeded=counts.succeeded,
                failed=counts.failed,
                running=len(counts.running),
                concurrency=self.gate.limit.current,
                max_concurrency=self.gate.limit.maximum,
            )
        if self.on_event is None:
            return
        with self._event_lock:
            try:
                self.on_event(event)
            except Exception:  # a broken callback must not break the journal's bookkeeping
                logger.exception("batch on_event callback failed")

    # one job

    def submit(self, job: Job) -> Prediction | None:
        self.journal.update(job.id, state=SUBMITTING, task_id=None, error=None, error_code=None)
        started = time.monotonic()
        try:
            prediction = self.submitter.predictions.create(
                job.workflow_id, _job_input(job), resource_config_id=job.resource_config_id, **job.options
            )
        except Exception as error:
            if isinstance(error, RateLimitError) and error.task_may_exist is False:
                self.journal.update(job.id, state=PENDING)  # no task: a crash now resubmits it
                self.gate.throttled(started)
                raise _Throttled(error) from None
            # The creation flow says whether a task may exist; anything else is in doubt.
            if getattr(error, "task_may_exist", None) is False:
                self.journal.update(job.id, state=FAILED, error=_error_text(error), error_code=_error_code(error))
                self.emit("failed", job, message=_error_text(error))
            else:
                message = f"submission in doubt, the task may exist: {_error_text(error)}"
                self.journal.update(job.id, state=UNKNOWN, error=message, error_code=_error_code(error))
                self.emit("unknown", job, message=message)
            return None
        self.journal.update(job.id, state=SUBMITTED, task_id=prediction.id)
        self.gate.submitted()
        self.emit("submitted", job, prediction.id)
        return prediction

    def follow(self, job: Job, task_id: str) -> Prediction | None:
        try:
            prediction = self.client.predictions.get(task_id)
        except Exception as error:
            self._incomplete(job, task_id, error)
            return None
        self.emit("resumed", job, task_id)
        return prediction

    def _incomplete(self, job: Job, task_id: str, error: BaseException) -> None:
        if isinstance(error, PredictionTimeoutError):
            message = "still running after the timeout; rerun to resume"
        else:
            message = f"{_error_text(error)}; rerun to resume"
        self.journal.update(job.id, error=message)
        self.emit("incomplete", job, task_id, message)

    def finish(self, job: Job, prediction: Prediction) -> None:
        try:
            prediction.wait(timeout=self.timeout)
        except Exception as error:
            self._incomplete(job, prediction.id, error)
            return
        if prediction.status != "succeeded":
            reason = prediction.error or f"task {prediction.status}"
            self.journal.update(job.id, state=FAILED, error=reason, error_code=prediction.error_code)
            self.emit("failed", job, prediction.id, reason)
            return
        from ._apps.saving import save_outputs

        try:
            saved = save_outputs(prediction.output, self.out_dir / job.id)
        except Exception as error:
            # The task id stays in the journal: a rerun fetches the result again.
            self._incomplete(job, prediction.id, error)
            return
        files = [path.relative_to(self.out_dir).as_posix() for path in saved]
        outputs = json.dumps(prediction.output, ensure_ascii=False, default=str)
        self.journal.update(job.id, state=DONE, outputs=outputs, files=json.dumps(files), error=None)
        self.emit("succeeded", job, prediction.id, f"{len(files)} file(s)")

    def run_job(self, job: Job, row: _Row) -> None:
        task_id = row.task_id if row.state == SUBMITTED else None
        prediction = self.follow(job, task_id) if task_id else self.submit(job)
        if prediction is not None and not self.stop.is_set():
            self.finish(job, prediction)

    def worker(self, work: queue.Queue[tuple[Job, _Row]]) -> None:
        while not self.stop.is_set():
            try:
                job, row = work.get_nowait()
            except queue.Empty:
                return
            throttles = 0
            while self.gate.enter(self.stop):
                delay = None
                try:
                    self.run_job(job, row)
                except _Throttled as throttled:
                    throttles += 1
                    delay = retry_delay(throttled.error, attempt=throttles, idempotent=False, policy=_THROTTLE_WAITS)
                    if delay is None:
                        message = f"throttled {throttles} times, not submitted: {throttled}; rerun to submit it"
                        self.journal.update(job.id, state=FAILED, error=message)
                        self.emit("failed", job, message=message)
                except Exception as error:  # a bug or a full disk: record it, keep going
                    logger.exception("batch job %s failed unexpectedly", job.id)
                    with contextlib.suppress(Exception):
                        self.journal.update(job.id, error=_error_text(error))
                    self.emit("incomplete", job, None, _error_text(error))
                finally:
                    self.gate.leave()
                if delay is None or self.stop.wait(delay):  # done, or waiting out the throttle
                    break


@contextlib.contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """One batch per directory at a time: two would submit the same pending jobs."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; documented
        yield
        return
    with (out_dir / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BatchInputError(f"another speedpix batch is running in {out_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _reconcile(
    jobs: list[Job], journal: Journal, *, resubmit_unknown: bool, retry_failed: bool, out_dir: Path
) -> dict[str, _Row]:
    """Bring the journal in line with the jobs file and the last run's end."""
    rows = journal.rows()
    new = [job for job in jobs if job.id not in rows]
    if new:
        journal.insert(new)
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
            journal.update(job.id, state=PENDING, spec=job.spec(), task_id=None, error=None, error_code=None)
    if problems:
        raise BatchInputError("\n".join(problems))
    return journal.rows()


def _results(jobs: list[Job], journal: Journal, out_dir: Path) -> list[JobResult]:
    rows = journal.rows()
    results = []
    for job in jobs:
        row = rows[job.id]
        status = _STATUS_OF_STATE.get(row.state, "incomplete")
        files = [str((out_dir / name).resolve()) for name in row.files] if row.state == DONE else []
        error = None if row.state == DONE else row.error
        if status == "incomplete" and error is None:
            error = "not finished; rerun to resume"
        results.append(JobResult(job.id, status, row.task_id, files, error, row.error_code))
    return results


def _write_results(path: Path, results: list[JobResult]) -> None:
    """Atomically: a temporary file beside it, flushed to disk, renamed over it."""
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # os.open with 0o666: the usual permissions (umask applied), unlike mkstemp's 0600.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            for result in results:
                stream.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def run_batch(
    jobs_path_or_iterable: str | os.PathLike[str] | TextIO | Iterable[str | Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    client: Client,
    concurrency: int = 4,
    timeout: float | None = None,
    on_event: Callable[[BatchEvent], Any] | None = None,
    resubmit_unknown: bool = False,
    retry_failed: bool = False,
) -> BatchSummary:
    """Run every job, at most ``concurrency`` at once; safe to interrupt and run again.

    All jobs are validated before anything is submitted (:class:`BatchInputError`).
    Outputs are saved under ``out_dir/<job id>/`` and a summary is written to
    ``out_dir/results.jsonl`` (atomically, at the end, also after Ctrl-C). ``timeout``
    bounds each job's wait; a job still running then is ``incomplete`` and is followed
    again by the next run. ``on_event`` receives a :class:`BatchEvent` per change (from
    worker threads, one at a time). See the module doc for the journal's rules.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidInputError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0):
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    jobs = load_jobs(jobs_path_or_iterable, detect_file_paths=client.detect_file_paths)
    directory = Path(out_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BatchInputError(f"cannot create the output directory {directory}: {error}") from None
    started = time.monotonic()
    results_path = directory / RESULTS_NAME
    with _exclusive(directory):
        journal = Journal(directory / JOURNAL_NAME)
        interrupted = False
        try:
            rows = _reconcile(
                jobs, journal, resubmit_unknown=resubmit_unknown, retry_failed=retry_failed, out_dir=directory
            )
            runner = _Runner(jobs, directory, journal, client, timeout, on_event, concurrency)
            work: queue.Queue[tuple[Job, _Row]] = queue.Queue()
            for job in jobs:
                row = rows[job.id]
                if row.state == DONE:
                    runner.emit("skipped", job, row.task_id, "finished in an earlier run")
                elif row.state == FAILED:
                    runner.emit("failed", job, row.task_id, f"{row.error} (earlier run; see --retry-failed)")
                elif row.state == UNKNOWN:
                    runner.emit("unknown", job, row.task_id, row.error)
                else:
                    work.put((job, row))
            threads = [
                threading.Thread(target=runner.worker, args=(work,), name=f"speedpix-batch-{n}", daemon=True)
                for n in range(min(concurrency, work.qsize()))
            ]
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    while thread.is_alive():
                        thread.join(0.2)
            except BaseException:
                # Ctrl-C: the workers are daemons; each state they reach is already
                # committed, and the next run resumes from there.
                interrupted = True
                runner.stop.set()
                raise
            finally:
                results = _results(jobs, journal, directory)
                _write_results(results_path, results)
        finally:
            if not interrupted:
                journal.close()
    return BatchSummary(
        results,
        output_dir=directory,
        results_path=results_path,
        journal_path=directory / JOURNAL_NAME,
        elapsed=time.monotonic() - started,
        concurrency=runner.gate.limit.current,
        lowest_concurrency=runner.gate.limit.lowest,
        max_concurrency=concurrency,
        throttled=runner.gate.limit.throttled,
    )
