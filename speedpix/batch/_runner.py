"""A batch's worker threads: submit (or follow) each job, wait, save; each step journaled before it is made."""

from __future__ import annotations

import contextlib
import json
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._apps.saving import save_outputs, save_outputs_to_storage
from .._core.adaptive import AdaptiveLimit
from .._core.errors import InvalidInputError, PredictionTimeoutError, RateLimitError
from .._core.inputs import is_media_file_path
from .._core.logging import logger
from .._core.names import shown_url
from .._core.retry import RetryPolicy, retry_delay
from .._core.validate import request_options
from .._flows.uploads import file_sha256
from ._jobs import Job, job_input, map_input
from ._journal import DONE, FAILED, PENDING, SUBMITTED, SUBMITTING, UNKNOWN, Journal, Row
from ._results import BatchEvent, failure_kind, task_failure_kind, utc_now

if TYPE_CHECKING:
    from ..client import Client
    from ..files import UploadRecord
    from ..predictions import Prediction

# How long a throttled job waits before it is submitted again: Retry-After if the
# service gives one, else from 0.5 s doubling to 8 s (jittered); after 10 in a row the
# job is failed (no task exists, so the next run submits it).
_THROTTLE_WAITS: Final = RetryPolicy(max_retries=10)


@dataclass(frozen=True)
class FailureLimit:
    """A batch stops submitting at ``count`` failures, or a ``ratio`` of ``min_finished`` or more finished jobs."""

    count: int | None = None
    ratio: float | None = None

    @classmethod
    def parse(cls, value: int | str | None) -> FailureLimit | None:
        if value is None:
            return None
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                percent = float(value.strip()[:-1])
            except ValueError:
                percent = math.nan
            if not 0 < percent <= 100:
                raise InvalidInputError(f"max_failures: a percentage is from 0 (excluded) to 100%, got {value!r}")
            return cls(ratio=percent / 100)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"max_failures must be an integer >= 1 or a percentage like '10%', got {value!r}")
        return cls(count=value)

    @property
    def min_finished(self) -> int:
        return 0 if self.ratio is None else max(10, math.ceil(1 / self.ratio - 1e-9))

    def reached(self, failed: int, finished: int) -> str | None:
        """Why the batch stops now, or None."""
        if self.count is not None:
            return f"{failed} jobs failed (--max-failures {self.count})" if failed >= self.count else None
        assert self.ratio is not None
        if finished < self.min_finished or failed < self.ratio * finished:
            return None
        return f"{failed} of {finished} finished jobs failed (--max-failures {self.ratio * 100:g}%)"


def _text(error: BaseException) -> str:
    return str(error) or type(error).__name__


def redacted(value: Any) -> Any:
    """``value`` with every URL without its query or credentials (an output link's signature is in its query)."""
    if isinstance(value, dict):
        return {key: redacted(child) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(child) for child in value]
    if isinstance(value, str) and "://" in value[:16] and ("?" in value or "@" in value):
        return shown_url(value)
    return value


@dataclass
class Runner:
    jobs: list[Job]
    #: Local outputs go to out_dir/<job id>/; with ``storage``, to storage/<job id>/.
    out_dir: Path
    journal: Journal
    client: Client
    #: Jobs at once: as many as the service's throttling allows, at most its maximum.
    limit: AdaptiveLimit
    timeout: float | None
    on_event: Callable[[BatchEvent], Any] | None
    failure_limit: FailureLimit | None
    storage: str | None
    storage_options: Mapping[str, Any] | None
    in_flight: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)
    stop: threading.Event = field(default_factory=threading.Event)
    #: Set once the failure limit is reached: nothing more is submitted.
    halted: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None
    #: Finished jobs by event kind ("skipped": succeeded in an earlier run).
    counts: Counter[str] = field(default_factory=Counter)
    earlier_failed: int = 0
    running: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    uploads_lock: threading.Lock = field(default_factory=threading.Lock)
    uploads_kept_at: float = -math.inf
    uploads_kept: set[UploadRecord] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Submissions raise throttling at once: the batch paces them, not client retries.
        self.submitter = self.client.with_options(retry_throttled=False)

    def emit(self, kind: str, job: Job, task_id: str | None = None, message: str | None = None) -> None:
        """Count the event and hand it to ``on_event``, under one lock: in the order counted."""
        with self.lock:
            if kind in ("submitted", "resumed"):
                self.running.add(job.id)
            else:
                self.running.discard(job.id)
                self.counts[kind] += 1
            failed = self.counts["failed"] - self.earlier_failed  # the limit counts this run's jobs
            limit = self.failure_limit
            reason = limit.reached(failed, failed + self.counts["succeeded"]) if limit else None
            if reason is not None and not self.halted.is_set():
                self.stop_reason = reason
                self.halted.set()
                logger.warning("batch stopped early: %s; submitting nothing more", reason)
            event = BatchEvent(
                kind,
                job.id,
                task_id,
                message,
                total=len(self.jobs),
                finished=sum(self.counts.values()),
                succeeded=self.counts["succeeded"] + self.counts["skipped"],
                failed=self.counts["failed"],
                running=len(self.running),
                concurrency=self.limit.current,
                max_concurrency=self.limit.maximum,
            )
            if self.on_event is None:
                return
            try:
                self.on_event(event)
            except Exception:  # a broken callback must not break the journal's bookkeeping
                logger.exception("batch on_event callback failed")

    def hashed(self, named: str) -> dict[str, Any]:
        """``{"path": named, "bytes", "sha256"}`` of a local input file."""
        sha256, size = file_sha256(str(Path(named).expanduser()))  # the upload's key reads it no more
        return {"path": named, "bytes": size, "sha256": sha256}

    def sent_record(self, job: Job) -> dict[str, Any]:
        """What ``job`` is sent as, ``create()``'s defaults included, local input files hashed."""
        sent: dict[str, Any] = dict(request_options(job.options))
        record: dict[str, Any] = {"workflow_id": job.workflow_id}
        record.update((key, sent[key]) for key in ("version_id", "alias_id") if key in sent)
        if job.resource_config_id is not None:
            record["resource_config_id"] = job.resource_config_id
        detect = self.client.detect_file_paths

        def leaf(value: Any) -> Any:
            if isinstance(value, str) and detect and is_media_file_path(value):
                return self.hashed(value)
            return redacted(value)

        record["inputs"] = map_input(job.input, file=self.hashed, text=str, leaf=leaf)
        return record

    def submit(self, job: Job) -> Prediction | None:
        """Submit ``job``; a throttled submission raises its RateLimitError, the job pending again."""
        try:
            record = self.sent_record(job)
        except OSError as error:  # the file went away since the jobs were checked
            self.fail(job, f"cannot read an input file: {error}", "invalid_input")
            return None
        self.journal.restart(job.id, SUBMITTING, sent=json.dumps(record, ensure_ascii=False))
        started = time.monotonic()
        try:
            prediction = self.submitter.predictions.create(
                job.workflow_id, job_input(job), resource_config_id=job.resource_config_id, **job.options
            )
        except Exception as error:
            self.keep_uploads()
            code = getattr(error, "sub_err_code", None) or getattr(error, "err_code", None)
            # The creation flow says whether a task may exist; anything else is in doubt.
            if getattr(error, "task_may_exist", None) is not False:
                message = f"submission in doubt, the task may exist: {_text(error)}"
                self.journal.update(job.id, state=UNKNOWN, error=message, error_code=code)
                self.emit("unknown", job, message=message)
            elif isinstance(error, RateLimitError):
                self.journal.update(job.id, state=PENDING)  # no task: a crash now resubmits it
                with self.changed:
                    before = self.limit.current
                    self.limit.on_throttle(started, time.monotonic())
                if self.limit.current < before:
                    logger.info("batch throttled: %d jobs at once now (was %d)", self.limit.current, before)
                raise
            else:
                self.fail(job, _text(error), failure_kind(error), error_code=code)
            return None
        record["submitted_at"] = utc_now()
        self.journal.update(job.id, state=SUBMITTED, task_id=prediction.id, sent=json.dumps(record, ensure_ascii=False))
        self.keep_uploads()
        with self.changed:
            self.limit.on_success(self.in_flight)
            self.changed.notify()
        self.emit("submitted", job, prediction.id)
        return prediction

    def keep_uploads(self, *, now: bool = False) -> None:
        """Journal the client's new uploads for a rerun (at most every second, unless ``now``); never raises."""
        with self.uploads_lock:
            if not now and time.monotonic() - self.uploads_kept_at < 1.0:
                return
            self.uploads_kept_at = time.monotonic()
            try:
                new = [record for record in self.client.files.uploads() if record not in self.uploads_kept]
                self.journal.record_uploads(new)
            except Exception as error:
                logger.warning("could not record the batch's uploads in its journal: %s", type(error).__name__)
                return
            self.uploads_kept.update(new)

    def fail(self, job: Job, message: str, kind: str, task_id: str | None = None, **values: Any) -> None:
        values = {"error_code": None, **values}
        self.journal.update(job.id, state=FAILED, error=message, failure_kind=kind, **values)
        self.emit("failed", job, task_id, message)

    def incomplete(self, job: Job, task_id: str, error: BaseException) -> None:
        reason = "still running after the timeout" if isinstance(error, PredictionTimeoutError) else _text(error)
        message = f"{reason}; rerun to resume"
        self.journal.update(job.id, error=message)
        self.emit("incomplete", job, task_id, message)

    def run_job(self, job: Job, row: Row) -> None:
        if row.state == SUBMITTED and row.task_id:
            try:
                prediction: Prediction | None = self.client.predictions.get(row.task_id)
            except Exception as error:
                self.incomplete(job, row.task_id, error)
                return
            self.emit("resumed", job, row.task_id)
        else:
            prediction = self.submit(job)
        if prediction is not None and not self.stop.is_set():
            self.finish(job, prediction)

    def finish(self, job: Job, prediction: Prediction) -> None:
        try:
            prediction.wait(timeout=self.timeout)
            finished: dict[str, Any] = {"finished_at": utc_now()}
            # The task id stays in the journal: a rerun fetches the files again.
            files = self.save(job, prediction) if prediction.status == "succeeded" else []
        except Exception as error:
            self.incomplete(job, prediction.id, error)
            return
        if prediction.duration_ms is not None:
            finished["duration_ms"] = prediction.duration_ms
        if prediction.status != "succeeded":
            message = prediction.error or f"task {prediction.status}"
            kind = task_failure_kind(prediction.error_code)
            self.fail(
                job, message, kind, prediction.id, error_code=prediction.error_code, finished=json.dumps(finished)
            )
            return
        finished["outputs"] = files
        self.journal.update(
            job.id,
            state=DONE,
            outputs=json.dumps(redacted(prediction.output), ensure_ascii=False, default=str),
            files=json.dumps([file["path"] for file in files]),
            error=None,
            finished=json.dumps(finished),
        )
        self.emit("succeeded", job, prediction.id, f"{len(files)} file(s)")

    def save(self, job: Job, prediction: Prediction) -> list[dict[str, Any]]:
        """``{"path", "bytes", "sha256"}`` of each saved file: relative to ``out_dir``, or its storage URL."""
        if self.storage is not None:
            saved = save_outputs_to_storage(
                prediction.output, f"{self.storage.rstrip('/')}/{job.id}", storage_options=self.storage_options
            )
            paths = [str(file.path) for file in saved]
        else:
            saved = save_outputs(prediction.output, self.out_dir / job.id)
            paths = [Path(file.path).relative_to(self.out_dir).as_posix() for file in saved]
        return [
            {"path": path, "bytes": file.bytes, "sha256": file.sha256} for path, file in zip(paths, saved, strict=True)
        ]

    def enter(self) -> bool:
        """Wait for a free slot; False if the batch is stopping."""
        with self.changed:
            while self.in_flight >= self.limit.current and not self.stop.is_set():
                self.changed.wait(0.2)
            if self.stop.is_set():
                return False
            self.in_flight += 1
            return True

    def worker(self, work: queue.Queue[tuple[Job, Row]]) -> None:
        while not self.stop.is_set():
            try:
                job, row = work.get_nowait()
            except queue.Empty:
                return
            throttles = 0
            while self.enter():
                delay = None
                try:
                    if self.halted.is_set() and row.state != SUBMITTED:
                        message = f"not submitted: the batch stopped early ({self.stop_reason}); rerun to resume"
                        self.journal.update(job.id, state=PENDING, error=message)
                        self.emit("incomplete", job, None, message)
                    else:
                        self.run_job(job, row)
                except RateLimitError as error:
                    throttles += 1
                    delay = retry_delay(error, attempt=throttles, idempotent=False, policy=_THROTTLE_WAITS)
                    if delay is None:
                        message = f"throttled {throttles} times, not submitted: {error}; rerun to submit it"
                        self.fail(job, message, "unreachable")
                except Exception as error:  # a bug or a full disk: record it, keep going
                    logger.exception("batch job %s failed unexpectedly", job.id)
                    with contextlib.suppress(Exception):
                        self.journal.update(job.id, error=_text(error))
                    self.emit("incomplete", job, None, _text(error))
                finally:
                    with self.changed:
                        self.in_flight -= 1
                        self.changed.notify()
                if delay is None or self.stop.wait(delay):  # done, or waiting out the throttle
                    break

    def run(self, rows: dict[str, Row]) -> None:
        """Report the jobs an earlier run finished, run the others; Ctrl-C stops the workers."""
        work: queue.Queue[tuple[Job, Row]] = queue.Queue()
        self.earlier_failed = sum(rows[job.id].state == FAILED for job in self.jobs)
        for job in self.jobs:
            row = rows[job.id]
            if row.state == DONE:
                self.emit("skipped", job, row.task_id, "finished in an earlier run")
            elif row.state == FAILED:
                self.emit("failed", job, row.task_id, f"{row.error} (earlier run; see --retry-failed)")
            elif row.state == UNKNOWN:
                self.emit("unknown", job, row.task_id, row.error)
            else:
                work.put((job, row))
        threads = [
            threading.Thread(target=self.worker, args=(work,), name=f"speedpix-batch-{n}", daemon=True)
            for n in range(min(self.limit.maximum, work.qsize()))
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
            self.stop.set()
            raise
