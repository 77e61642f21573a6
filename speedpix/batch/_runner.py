"""The scheduling loop of a batch: worker threads take jobs, submit them (or follow the
task a journal row names), wait and save their files, at most as many at once as the
service's throttling allows; every step is recorded in the journal before it is made."""

from __future__ import annotations

import contextlib
import json
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._apps.saving import save_outputs, save_outputs_to_storage
from .._core.errors import PredictionTimeoutError, RateLimitError
from .._core.logging import logger
from .._core.retry import RetryPolicy, retry_delay
from ._jobs import Job, job_input
from ._journal import DONE, FAILED, PENDING, SUBMITTED, SUBMITTING, UNKNOWN, Journal, Row
from ._pacing import FailureLimit, Gate
from ._provenance import FileHashes, failure_kind, redacted, sent_record, task_failure_kind, utc_now
from ._results import BatchEvent

if TYPE_CHECKING:
    from ..client import Client
    from ..files import UploadRecord
    from ..predictions import Prediction

__all__ = ["Runner"]

#: The client's uploads are copied to the journal at most this often (seconds), and at the end.
KEEP_UPLOADS_EVERY: Final = 1.0


@dataclass
class _Counts:
    total: int
    succeeded: int = 0
    failed: int = 0
    other: int = 0  # unknown/incomplete: finished for this run
    # Jobs that succeeded or failed in this run (not an earlier one): the failure limit's count.
    run_succeeded: int = 0
    run_failed: int = 0
    running: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


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


class Runner:
    def __init__(
        self,
        jobs: list[Job],
        out_dir: Path,
        journal: Journal,
        client: Client,
        timeout: float | None,
        on_event: Callable[[BatchEvent], Any] | None,
        concurrency: int = 4,
        failure_limit: FailureLimit | None = None,
        *,
        storage: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.jobs = jobs
        # Local outputs go under out_dir/<job id>/; with ``storage`` (an fsspec URL),
        # under storage/<job id>/ and out_dir holds the batch's state alone.
        self.out_dir = out_dir
        self.storage = storage.rstrip("/") if storage is not None else None
        self.storage_options = storage_options
        self.journal = journal
        self.client = client
        # Submissions raise throttling at once: the gate paces them, not client retries.
        self.submitter = client.with_options(retry_throttled=False)
        self.timeout = timeout
        self.on_event = on_event
        self.stop = threading.Event()
        self.counts = _Counts(total=len(jobs))
        self.gate = Gate(concurrency)
        self._event_lock = threading.Lock()
        self.failure_limit = failure_limit
        # Set once the failure limit is reached: nothing more is submitted, tasks
        # already submitted are followed to the end.
        self.halted = threading.Event()
        self.stop_reason: str | None = None
        self.hashes = FileHashes()
        self._uploads_lock = threading.Lock()
        self._uploads_kept_at = -math.inf
        self._uploads_kept: set[UploadRecord] = set()

    # events

    def emit(self, kind: str, job: Job, task_id: str | None = None, message: str | None = None) -> None:
        counts = self.counts
        # Counted and delivered under one lock: events reach on_event in the order counted.
        with self._event_lock:
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
            try:
                self.on_event(event)
            except Exception:  # a broken callback must not break the journal's bookkeeping
                logger.exception("batch on_event callback failed")

    # one job

    def submit(self, job: Job) -> Prediction | None:
        try:
            record = sent_record(job, self.hashes, detect_file_paths=self.client.detect_file_paths)
        except OSError as error:  # the file went away since the jobs were checked
            self.fail(job, f"cannot read an input file: {error}", kind="invalid_input")
            return None
        self.journal.restart(job.id, SUBMITTING, sent=json.dumps(record, ensure_ascii=False))
        started = time.monotonic()
        try:
            prediction = self.submitter.predictions.create(
                job.workflow_id, job_input(job), resource_config_id=job.resource_config_id, **job.options
            )
        except Exception as error:
            self.keep_uploads()
            if isinstance(error, RateLimitError) and error.task_may_exist is False:
                self.journal.update(job.id, state=PENDING)  # no task: a crash now resubmits it
                self.gate.throttled(started)
                raise _Throttled(error) from None
            # The creation flow says whether a task may exist; anything else is in doubt.
            if getattr(error, "task_may_exist", None) is False:
                self.fail(job, _error_text(error), error_code=_error_code(error), kind=failure_kind(error))
            else:
                message = f"submission in doubt, the task may exist: {_error_text(error)}"
                self.journal.update(job.id, state=UNKNOWN, error=message, error_code=_error_code(error))
                self.emit("unknown", job, message=message)
            return None
        record["submitted_at"] = utc_now()
        self.journal.update(job.id, state=SUBMITTED, task_id=prediction.id, sent=json.dumps(record, ensure_ascii=False))
        self.keep_uploads()
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

    def keep_uploads(self, *, now: bool = False) -> None:
        """Copy the client's new uploads to the journal, for a rerun to reuse (at most
        every ``KEEP_UPLOADS_EVERY`` seconds, unless ``now``). Never raises: a rerun
        without them uploads again, nothing worse."""
        with self._uploads_lock:
            if not now and time.monotonic() - self._uploads_kept_at < KEEP_UPLOADS_EVERY:
                return
            self._uploads_kept_at = time.monotonic()
            try:
                new = [record for record in self.client.files.uploads() if record not in self._uploads_kept]
                self.journal.record_uploads(new)
            except Exception as error:
                logger.warning("could not record the batch's uploads in its journal: %s", type(error).__name__)
                return
            self._uploads_kept.update(new)

    def fail(
        self,
        job: Job,
        message: str,
        task_id: str | None = None,
        error_code: str | None = None,
        *,
        kind: str = "other",
        finished: dict[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": FAILED, "error": message, "error_code": error_code, "failure_kind": kind}
        if finished is not None:
            values["finished"] = json.dumps(finished)
        self.journal.update(job.id, **values)
        self.counted(failed=True)
        self.emit("failed", job, task_id, message)

    def counted(self, *, failed: bool) -> None:
        """A job of this run finished: halt the submissions if the failure limit is reached."""
        with self.counts.lock:
            if failed:
                self.counts.run_failed += 1
            else:
                self.counts.run_succeeded += 1
            failures, finished = self.counts.run_failed, self.counts.run_failed + self.counts.run_succeeded
        if self.failure_limit is None or self.halted.is_set():
            return
        reason = self.failure_limit.reached(failures, finished)
        if reason is not None:
            self.stop_reason = reason
            self.halted.set()
            logger.warning("batch stopped early: %s; submitting nothing more", reason)

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
        finished: dict[str, Any] = {"finished_at": utc_now()}
        if prediction.duration_ms is not None:
            finished["duration_ms"] = prediction.duration_ms
        if prediction.status != "succeeded":
            self.fail(
                job,
                prediction.error or f"task {prediction.status}",
                prediction.id,
                prediction.error_code,
                kind=task_failure_kind(prediction.error_code),
                finished=finished,
            )
            return
        try:
            files = self.save(job, prediction)
        except Exception as error:
            # The task id stays in the journal: a rerun fetches the result again.
            self._incomplete(job, prediction.id, error)
            return
        finished["outputs"] = files
        outputs = json.dumps(redacted(prediction.output), ensure_ascii=False, default=str)
        names = [file["path"] for file in files]
        self.journal.update(
            job.id, state=DONE, outputs=outputs, files=json.dumps(names), error=None, finished=json.dumps(finished)
        )
        self.counted(failed=False)
        self.emit("succeeded", job, prediction.id, f"{len(files)} file(s)")

    def save(self, job: Job, prediction: Prediction) -> list[dict[str, Any]]:
        """Save the job's files; ``{"path", "bytes", "sha256"}`` of each, the checksum
        computed as the bytes streamed (no saved file is read back). The path is relative
        to the batch's folder for a local file, the full URL for one in object storage."""
        if self.storage is not None:
            remote = save_outputs_to_storage(
                prediction.output, f"{self.storage}/{job.id}", storage_options=self.storage_options
            )
            return [{"path": str(file.path), "bytes": file.bytes, "sha256": file.sha256} for file in remote]
        saved = save_outputs(prediction.output, self.out_dir / job.id)
        return [
            {"path": Path(file.path).relative_to(self.out_dir).as_posix(), "bytes": file.bytes, "sha256": file.sha256}
            for file in saved
        ]

    def run_job(self, job: Job, row: Row) -> None:
        task_id = row.task_id if row.state == SUBMITTED else None
        prediction = self.follow(job, task_id) if task_id else self.submit(job)
        if prediction is not None and not self.stop.is_set():
            self.finish(job, prediction)

    def held_back(self, job: Job) -> None:
        """A job left unsubmitted because the failure limit was reached."""
        message = f"not submitted: the batch stopped early ({self.stop_reason}); rerun to resume"
        self.journal.update(job.id, state=PENDING, error=message)
        self.emit("incomplete", job, None, message)

    def worker(self, work: queue.Queue[tuple[Job, Row]]) -> None:
        while not self.stop.is_set():
            try:
                job, row = work.get_nowait()
            except queue.Empty:
                return
            throttles = 0
            while self.gate.enter(self.stop):
                if self.halted.is_set() and row.state != SUBMITTED:
                    self.gate.leave()
                    self.held_back(job)
                    break
                delay = None
                try:
                    self.run_job(job, row)
                except _Throttled as throttled:
                    throttles += 1
                    delay = retry_delay(throttled.error, attempt=throttles, idempotent=False, policy=_THROTTLE_WAITS)
                    if delay is None:
                        self.fail(
                            job,
                            f"throttled {throttles} times, not submitted: {throttled}; rerun to submit it",
                            kind="unreachable",
                        )
                except Exception as error:  # a bug or a full disk: record it, keep going
                    logger.exception("batch job %s failed unexpectedly", job.id)
                    with contextlib.suppress(Exception):
                        self.journal.update(job.id, error=_error_text(error))
                    self.emit("incomplete", job, None, _error_text(error))
                finally:
                    self.gate.leave()
                if delay is None or self.stop.wait(delay):  # done, or waiting out the throttle
                    break

    # the run

    def start(self, rows: dict[str, Row]) -> list[threading.Thread]:
        """Report the jobs an earlier run finished; start the workers on the others."""
        work: queue.Queue[tuple[Job, Row]] = queue.Queue()
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
            for n in range(min(self.gate.limit.maximum, work.qsize()))
        ]
        for thread in threads:
            thread.start()
        return threads

    def join(self, threads: list[threading.Thread]) -> None:
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except BaseException:
            # Ctrl-C: the workers are daemons; each state they reach is already
            # committed, and the next run resumes from there.
            self.stop.set()
            raise
