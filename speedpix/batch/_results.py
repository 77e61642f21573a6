"""What a batch reports: each job's result, the run's summary, ``on_event``'s events, failure kinds."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from .._core import errors

#: Why a job failed, in the order the summary shows them, with the words it uses.
FAILURE_KINDS: Final = {
    "content_moderation": "refused by content moderation",
    "invalid_input": "refused as bad input",
    "task_failed": "task failed",
    "unreachable": "could not be reached",
    "other": "other",
}


def utc_now() -> str:
    """Now, ISO 8601 in UTC with milliseconds: ``2026-12-06T07:01:02.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def known_kind(kind: str | None) -> str:
    """``kind``, or ``"other"`` for one an older SDK recorded (or none)."""
    return kind if kind is not None and kind in FAILURE_KINDS else "other"


def failures_by_kind(kinds: Iterable[str | None]) -> dict[str, int]:
    """How many failures of each kind, in the order of :data:`FAILURE_KINDS`, kinds with none left out."""
    counts = Counter(map(known_kind, kinds))
    return {kind: counts[kind] for kind in FAILURE_KINDS if counts[kind]}


def task_failure_kind(error_code: str | None) -> str:
    """The kind of a task that ran and failed: the content check's codes, or ``task_failed``."""
    return "content_moderation" if error_code and "AuditFailed" in error_code else "task_failed"


def failure_kind(error: BaseException) -> str:
    """The kind of an error that failed a job's submission (a task's failure: ``task_failure_kind``)."""
    if isinstance(error, errors.ContentModerationError):
        return "content_moderation"
    if isinstance(error, errors.InvalidInputError | errors.ServiceError):
        return "invalid_input"
    if isinstance(error, errors.APIConnectionError | errors.FileTransferError | errors.ServerError):
        return "unreachable"
    return "invalid_input" if getattr(error, "status_code", None) in (400, 413, 422) else "other"


@dataclass(frozen=True)
class JobResult:
    """One line of ``results.jsonl``. ``status`` is ``succeeded``, ``failed``,
    ``unknown`` (submission in doubt, see docs/cli.md) or ``incomplete`` (not
    finished in this run: rerun to resume)."""

    id: str
    status: str
    task_id: str | None
    files: list[str]
    error: str | None
    error_code: str | None = None
    #: For a failed job, one of :data:`FAILURE_KINDS` (None for a failure recorded by
    #: an older version of the SDK).
    failure_kind: str | None = None
    #: Provenance (docs/cli.md, "Provenance"); keys absent when unknown.
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        provenance = data.pop("provenance")
        if self.failure_kind is None:  # not failed, or failed in a journal of an older version
            del data["failure_kind"]
        return {**data, **provenance}


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
    #: The failure limit (``max_failures``) was reached: jobs not yet submitted were
    #: left for the next run.
    stopped_early: bool = False
    #: Why it stopped, in words (None unless ``stopped_early``).
    stop_reason: str | None = None
    #: ``report.html`` in the output directory (None if it could not be written).
    report_path: Path | None = None
    #: Where the files went when they were streamed to object storage (``output_dir``
    #: then holds the batch's state alone); None for local outputs.
    output_url: str | None = None

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
    def failed_by_kind(self) -> dict[str, int]:
        """Failed jobs by kind (:data:`FAILURE_KINDS`), kinds with none left out."""
        return failures_by_kind(result.failure_kind for result in self.results if result.status == "failed")

    @property
    def ok(self) -> bool:
        return self.succeeded == self.total

    def count_line(self) -> str:
        line = f"{self.succeeded}/{self.total} succeeded, {self.failed} failed"
        if self.failed:
            line += " (" + ", ".join(f"{n} {FAILURE_KINDS[kind]}" for kind, n in self.failed_by_kind.items()) + ")"
        if self.stopped_early:
            line += f"; stopped early: {self.stop_reason}"
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
        names = (
            "total succeeded failed unknown incomplete concurrency lowest_concurrency max_concurrency throttled "
            "failed_by_kind stopped_early stop_reason results_path report_path output_dir output_url"
        )
        data = {name: getattr(self, name) for name in names.split()}
        return {name: str(value) if isinstance(value, Path) else value for name, value in data.items()}


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
        text = f"[{self.finished}/{self.total} done, {self.failed} failed, {self.running} running"
        if self.concurrency < self.max_concurrency:
            text += f", concurrency {self.concurrency}/{self.max_concurrency} (throttled)"
        text += f"] {self.job_id}: {self.kind}"
        if self.task_id:
            text += f" (task {self.task_id})"
        return text + (f": {self.message}" if self.message else "")
