"""Crash-safe batches: run many jobs, kill the process at any moment, run it again.

::

    from speedpix import Client
    from speedpix.batch import run_batch

    summary = run_batch("jobs.jsonl", "out", client=Client(), concurrency=4)
    print(summary.count_line())

Each line of the jobs file is ``{"id": "...", "workflow_id": "...", "input": {...}}``
with optional ``resource_config_id`` and any optional field of the API spec's
``comfy_prompt`` request (``alias_id``, ``version_id``, ``randomise_seeds``, ...).

**Files in inputs.** ``{"$file": "photos/17.jpg"}`` is a local file (relative to the
current directory), uploaded before its job is submitted; ``{"$text": "..."}`` is a
string sent as it is. A plain string is a file when it names an existing media file; one
that only *looks* like one (``.jpg``, ``.png``, ``.mp4``… but no such file) is refused as
a likely typo. Every such problem is reported, by line, before anything is submitted.
With ``detect_file_paths=False`` (``--strings-as-text``) plain strings are always text.

**The journal.** ``DIR/journal.sqlite`` (WAL, ``synchronous=FULL``) has one row per job:
``pending`` → ``submitting`` (committed *before* the task is submitted) → ``submitted``
with its task id → ``done`` (files saved) or ``failed``. A rerun never submits a job
whose task id is known (it follows the task) and never runs a finished job again. The
journal also keeps the client's uploads (``client.files.uploads()``): a rerun hands those
still valid to its client (``client.files.reuse()``), so shared inputs are not uploaded again.

**The one ambiguous case.** A job found in ``submitting`` on a rerun was being submitted
when the process died: the task may or may not exist. It becomes ``unknown`` and is *not*
submitted again (that could pay twice) unless ``resubmit_unknown=True`` (``--resubmit-unknown``).

Other rules: a job whose submission was refused or whose input files could not be
uploaded created no task (``SpeedPixException.task_may_exist``) and is retried on the next
run; a job whose *task* failed stays failed unless ``retry_failed=True``; a job whose wait
timed out or was cut short by a network error is followed again on the next run. Retries
of individual calls are the client's (``max_retries``), except for throttling.

**Throttling.** The batch starts at ``concurrency`` jobs at once; a throttled submission
(``RateLimitError``) lowers it, successful ones raise it again, never above
``concurrency`` (AIMD, ``speedpix._core.adaptive``). The throttled job waits
(``Retry-After``, else a growing delay) and is submitted again; after 10 throttles in a
row it is ``failed``, with no task, so the next run submits it.

**Stopping early.** ``max_failures=N`` stops submitting once ``N`` jobs have failed in
this run; ``max_failures="10%"`` once 10% of the jobs finished in this run have failed,
checked from ``max(10, ceil(1 / 0.10))`` finished jobs on. Tasks already submitted are
followed to the end; jobs not submitted stay pending (``incomplete``) for a rerun.
Failures of earlier runs do not count. ``BatchSummary.stopped_early`` says so.

**Failures by kind** (``FAILURE_KINDS``; ``failure_kind`` in ``results.jsonl``):
``content_moderation`` (``ContentModerationError``, or an ``AuditFailed`` task),
``invalid_input`` (``InvalidInputError``, ``ServiceError``, HTTP 400/413/422),
``task_failed``, ``unreachable`` (``APIConnectionError``, ``FileTransferError``,
``ServerError``, throttled 10 times in a row), ``other`` (and older SDKs' failures).

**Provenance.** Each line of ``results.jsonl`` also has, when known: ``workflow_id``,
``alias_id`` (``"main"`` when the job named no version or alias) or ``version_id``,
``resource_config_id``, ``inputs`` as sent (a local file as ``{"path", "bytes",
"sha256"}``; a URL without its query or credentials), ``submitted_at`` and
``finished_at`` (ISO 8601 UTC), ``duration_ms`` and ``outputs``: ``{"path", "bytes",
"sha256"}`` per saved file (path relative to the output directory, or the URL in object
storage), checksums computed as the bytes are written. Rows of an older journal have none.

**Object storage.** ``out_dir`` may be an fsspec URL (``s3://bucket/prefix``, the
``speedpix[storage]`` extra): each job's files are streamed to ``URL/<job id>/`` and the
journal, ``results.jsonl`` and ``report.html`` go to ``state``, a local folder, required
then (and refused with a local ``out_dir``).

**The report.** Every run ends by writing ``DIR/report.html`` (:func:`write_report`
rebuilds it from the journal): counts, failures first, then every job's saved files as a
contact sheet. One self-contained file, no script, everything from outside HTML-escaped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._apps.saving import check_storage_folder, is_storage_url
from .._core.logging import logger
from .._core.names import shown_url
from .._core.validate import count, positive
from ._jobs import JOURNAL_NAME, REPORT_NAME, RESULTS_NAME, BatchInputError, Job, load_jobs
from ._journal import Journal, exclusive, reconcile, write_results
from ._report import write_report
from ._results import FAILURE_KINDS, BatchEvent, BatchSummary, JobResult
from ._runner import FailureLimit, Gate, Runner

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
    Outputs are saved under ``out_dir/<job id>/`` and a summary is written to
    ``out_dir/results.jsonl`` (atomically, at the end, also after Ctrl-C). ``timeout``
    bounds each job's wait; a job still running then is ``incomplete`` and is followed
    again by the next run. ``on_event`` receives a :class:`BatchEvent` per change (from
    worker threads, one at a time). ``max_failures`` (a count, or a percentage such as
    ``"10%"``) stops submitting once that many jobs failed in this run
    (:attr:`BatchSummary.stopped_early`). See the module doc for the journal's rules.

    ``out_dir`` may be an fsspec URL (``s3://bucket/prefix``, needs ``speedpix[storage]``):
    each job's files are streamed to ``out_dir/<job id>/``, and ``state`` (required then, a
    local folder) holds the journal, ``results.jsonl`` and ``report.html``.
    ``storage_options`` go to the file system (e.g. ``endpoint_url``). Both are checked
    before anything is submitted (:class:`BatchInputError`; a scheme whose package is
    missing: :class:`~speedpix.errors.ConfigurationError`).
    """
    failure_limit = FailureLimit.parse(max_failures)
    storage = _storage(out_dir, state, storage_options)
    count("concurrency", concurrency, minimum=1)
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
                jobs,
                directory,
                journal,
                client,
                Gate(concurrency),
                timeout,
                on_event,
                failure_limit,
                storage,
                storage_options,
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
    limit = runner.gate.limit
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
