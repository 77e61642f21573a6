"""What a batch reports: a result per job (``results.jsonl``), the summary of a run, and
the events ``on_event`` receives while it runs."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = ["FAILURE_KINDS", "BatchEvent", "BatchSummary", "JobResult", "failures_by_kind", "known_kind"]

#: Why a job failed, in the order the summary shows them, with the words it uses:
#: refused by the content-security check, refused as bad input (the SDK's checks, or
#: the service saying the request is wrong: unknown workflow, invalid parameter…), the
#: task ran and failed, the service could not be reached (connection, file transfer,
#: server errors, throttled 10 times in a row), anything else (e.g. bad credentials).
FAILURE_KINDS: Final = {
    "content_moderation": "refused by content moderation",
    "invalid_input": "refused as bad input",
    "task_failed": "task failed",
    "unreachable": "could not be reached",
    "other": "other",
}


def known_kind(kind: str | None) -> str:
    """``kind`` if it is one of :data:`FAILURE_KINDS`, else ``"other"`` (e.g. a failure
    recorded by an older SDK)."""
    return kind if kind is not None and kind in FAILURE_KINDS else "other"


def failures_by_kind(kinds: Iterable[str | None]) -> dict[str, int]:
    """How many failures of each kind, in the order of :data:`FAILURE_KINDS`, kinds with none left out."""
    counts = Counter(map(known_kind, kinds))
    return {kind: counts[kind] for kind in FAILURE_KINDS if counts[kind]}


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
    #: For a failed job, one of :data:`FAILURE_KINDS` (None for a failure recorded by
    #: an older version of the SDK).
    failure_kind: str | None = None
    #: Provenance (see the module doc of :mod:`speedpix.batch`); keys absent when unknown.
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {name: value for name, value in dataclasses.asdict(self).items() if name != "provenance"}
        if self.failure_kind is None:  # not failed, or failed in a journal of an older version
            del data["failure_kind"]
        data.update(self.provenance)
        return data


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
            "failed_by_kind": self.failed_by_kind,
            "stopped_early": self.stopped_early,
            "stop_reason": self.stop_reason,
            "results_path": str(self.results_path),
            "report_path": str(self.report_path) if self.report_path is not None else None,
            "output_dir": str(self.output_dir),
            "output_url": self.output_url,
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
