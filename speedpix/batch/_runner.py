"""The scheduling loop of a batch: worker threads take jobs, submit them (or follow the
task a journal row names), wait and save their files, at most as many at once as the
service's throttling allows; every step is recorded in the journal before it is made."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._apps.saving import save_outputs
from .._core.adaptive import AdaptiveLimit
from .._core.errors import PredictionTimeoutError, RateLimitError
from .._core.logging import logger
from .._core.retry import RetryPolicy, retry_delay
from ._jobs import Job, job_input
from ._journal import DONE, FAILED, PENDING, SUBMITTED, SUBMITTING, UNKNOWN, Journal, Row
from ._results import BatchEvent

if TYPE_CHECKING:
    from ..client import Client
    from ..predictions import Prediction

__all__ = ["Runner"]


@dataclass
class _Counts:
    total: int
    succeeded: int = 0
    failed: int = 0
    other: int = 0  # unknown/incomplete: finished for this run
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
        self.journal.update(job.id, state=SUBMITTING, task_id=None, error=None, error_code=None)
        started = time.monotonic()
        try:
            prediction = self.submitter.predictions.create(
                job.workflow_id, job_input(job), resource_config_id=job.resource_config_id, **job.options
            )
        except Exception as error:
            if isinstance(error, RateLimitError) and error.task_may_exist is False:
                self.journal.update(job.id, state=PENDING)  # no task: a crash now resubmits it
                self.gate.throttled(started)
                raise _Throttled(error) from None
            # The creation flow says whether a task may exist; anything else is in doubt.
            if getattr(error, "task_may_exist", None) is False:
                self.fail(job, _error_text(error), error_code=_error_code(error))
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

    def fail(self, job: Job, message: str, task_id: str | None = None, error_code: str | None = None) -> None:
        self.journal.update(job.id, state=FAILED, error=message, error_code=error_code)
        self.emit("failed", job, task_id, message)

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
            self.fail(job, prediction.error or f"task {prediction.status}", prediction.id, prediction.error_code)
            return
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

    def run_job(self, job: Job, row: Row) -> None:
        task_id = row.task_id if row.state == SUBMITTED else None
        prediction = self.follow(job, task_id) if task_id else self.submit(job)
        if prediction is not None and not self.stop.is_set():
            self.finish(job, prediction)

    def worker(self, work: queue.Queue[tuple[Job, Row]]) -> None:
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
                        self.fail(job, f"throttled {throttles} times, not submitted: {throttled}; rerun to submit it")
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
