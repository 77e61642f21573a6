"""Crash-safe batches: run many jobs, kill the process at any moment, run it again.

::

    from speedpix import Client
    from speedpix.batch import run_batch

    summary = run_batch("jobs.jsonl", "out", client=Client(), concurrency=4)
    print(summary.count_line())

Each line of the jobs file is ``{"id": "...", "workflow_id": "...", "input": {...}}``; in
an input, ``{"$file": "photos/17.jpg"}`` is a local file and ``{"$text": "..."}`` a string
sent as it is. ``DIR/journal.sqlite`` records every submission before it is made, so a
rerun never submits a job twice; ``results.jsonl`` and ``report.html`` say what each job
ran with and produced. The jobs file, the journal, throttling, stopping early and the
results in full: docs/cli.md, "Batches".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._apps.saving import check_storage_folder, is_storage_url
from .._core.adaptive import AdaptiveLimit
from .._core.logging import logger
from .._core.names import shown_url
from .._core.validate import positive
from ._jobs import JOURNAL_NAME, REPORT_NAME, RESULTS_NAME, BatchInputError, Job, load_jobs
from ._journal import Journal, exclusive, reconcile, write_results
from ._report import write_report
from ._results import FAILURE_KINDS, BatchEvent, BatchSummary, JobResult
from ._runner import FailureLimit, Runner

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "FAILURE_KINDS",
    "BatchEvent",
    "BatchInputError",
    "BatchSummary",
    "Job",
    "JobResult",
    "load_jobs",
    "run_batch",
    "write_report",
]


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
    max_failures: int | str | None = None,
    state: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> BatchSummary:
    """Run every job, at most ``concurrency`` at once; safe to interrupt and run again.

    All jobs are validated before anything is submitted (:class:`BatchInputError`).
    Outputs go to ``out_dir/<job id>/``, results to ``out_dir/results.jsonl`` (at the end,
    also after Ctrl-C). ``timeout`` bounds each job's wait (then it is ``incomplete``).
    ``on_event`` receives a :class:`BatchEvent` per change, one at a time. ``max_failures``
    (a count or ``"10%"``) stops submitting once that many jobs failed in this run.
    ``out_dir`` may be an fsspec URL (``s3://bucket/prefix``, needs ``speedpix[storage]``);
    ``state``, a local folder, then holds the journal, results and report, and
    ``storage_options`` go to the file system (e.g. ``endpoint_url``).
    """
    stop_at = FailureLimit.parse(max_failures)
    storage = _storage(out_dir, state, storage_options)
    limit = AdaptiveLimit(concurrency)
    positive("timeout", timeout, allow_none=True)
    jobs = load_jobs(jobs_path_or_iterable, detect_file_paths=client.detect_file_paths)
    directory = Path(state if storage is not None and state is not None else out_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        what = "state" if storage is not None else "output"
        raise BatchInputError(f"cannot create the {what} directory {directory}: {error}") from None
    started = time.monotonic()
    with exclusive(directory):
        journal = Journal(directory / JOURNAL_NAME)
        interrupted = False
        try:
            rows = reconcile(
                jobs, journal, resubmit_unknown=resubmit_unknown, retry_failed=retry_failed, out_dir=directory
            )
            reused = client.files.reuse(journal.uploads())
            if reused:
                logger.info("reusing %d uploads of an earlier run of this batch", reused)
            runner = Runner(
                jobs, directory, journal, client, limit, timeout, on_event, stop_at, storage, storage_options
            )
            try:
                runner.run(rows)
            except BaseException:
                interrupted = True  # the workers may still write: the journal stays open
                raise
            finally:
                runner.keep_uploads(now=True)
                results = write_results(directory / RESULTS_NAME, jobs, journal, directory)
                try:
                    report_path: Path | None = write_report(directory, journal=journal)
                except Exception:  # logged, not raised: the results are written
                    logger.exception("could not write %s", directory / REPORT_NAME)
                    report_path = None
        finally:
            if not interrupted:
                journal.close()
    return BatchSummary(
        results,
        output_dir=directory,
        results_path=directory / RESULTS_NAME,
        journal_path=directory / JOURNAL_NAME,
        elapsed=time.monotonic() - started,
        concurrency=limit.current,
        lowest_concurrency=limit.lowest,
        max_concurrency=concurrency,
        throttled=limit.throttled,
        report_path=report_path,
        stopped_early=runner.halted.is_set(),
        stop_reason=runner.stop_reason,
        output_url=shown_url(storage) if storage is not None else None,
    )


def _storage(
    out_dir: str | os.PathLike[str], state: str | os.PathLike[str] | None, storage_options: Mapping[str, Any] | None
) -> str | None:
    """The storage URL the outputs go to (None: the local ``out_dir``); refuses what could not work."""
    if not is_storage_url(out_dir):
        if state is not None and Path(state).resolve() != Path(out_dir).resolve():
            raise BatchInputError(
                f"a separate state folder ({state}) is for outputs in object storage: with a local output "
                f"folder, the journal, results.jsonl and report.html are kept in it ({out_dir})"
            )
        if storage_options is not None:
            raise BatchInputError("storage_options apply to a storage URL (s3://…), not to a local output folder")
        return None
    assert isinstance(out_dir, str)
    if state is None:
        raise BatchInputError(
            f"{shown_url(out_dir)} is object storage: the journal, results.jsonl and report.html need a "
            "local folder, add --state DIR (state=DIR)"
        )
    if is_storage_url(state):
        raise BatchInputError(f"the state folder must be local, got {shown_url(state)}")
    if "?" in out_dir or "#" in out_dir:
        raise BatchInputError(f"{shown_url(out_dir)}: give the storage URL without a query or fragment")
    check_storage_folder(out_dir, storage_options)  # fsspec and the scheme's package, nothing sent
    return out_dir
