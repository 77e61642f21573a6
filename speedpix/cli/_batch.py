"""``speedpix batch`` (a jobs file run through :func:`speedpix.batch.run_batch`) and ``speedpix report``;
the batch runner is imported when a command runs (fast ``--help``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .._apps.terminal import LiveLine, printable
from .._core.errors import InvalidInputError
from ._output import EXIT_INTERRUPTED, EXIT_OK, EXIT_STOPPED, EXIT_TASK_FAILED, UsageError, err, print_json
from ._run import make_client

if TYPE_CHECKING:
    from ..batch import BatchEvent


def cmd_batch(args: argparse.Namespace) -> int:
    from ..batch import run_batch  # lazy: keeps `speedpix --help` fast

    status = _BatchStatus(sys.stderr, enabled=not args.quiet)
    try:
        with make_client(args, detect_file_paths=not args.strings_as_text) as client:
            summary = run_batch(
                sys.stdin if args.jobs == "-" else args.jobs,
                args.output_dir,
                client=client,
                concurrency=args.concurrency,
                timeout=args.timeout,
                on_event=status,
                resubmit_unknown=args.resubmit_unknown,
                retry_failed=args.retry_failed,
                max_failures=args.max_failures,
                state=args.state,
            )
    except InvalidInputError as error:  # a BatchInputError, or run_batch's check of an option
        message = str(error)
        name = message.partition(" ")[0].rstrip(":")
        if name in ("concurrency", "max_failures"):  # said as the option is typed here
            message = message.replace(name, "--" + name.replace("_", "-"), 1)
        raise UsageError(message) from None
    except KeyboardInterrupt:
        status.finish()
        status.enabled = False  # workers may still report; the message below is the last word
        jobs = "job was" if status.submitted == 1 else "jobs were"
        err(
            f"interrupted: {status.submitted} {jobs} submitted in this run. Every submitted task is in the "
            "journal; rerun the same command to resume (nothing is submitted twice)."
        )
        return EXIT_INTERRUPTED
    status.finish()
    err(printable(summary.count_line()))
    if args.json:
        print_json(summary.to_dict())
    else:
        print(printable(summary.results_path), flush=True)
    if summary.stopped_early:
        return EXIT_STOPPED
    return EXIT_OK if summary.ok else EXIT_TASK_FAILED


class _BatchStatus(LiveLine):
    """One line per job event on stderr (the latest rewritten in place on a terminal)."""

    submitted = 0  # tasks submitted in this run, for the Ctrl-C report

    def __call__(self, event: BatchEvent) -> None:
        if event.kind == "submitted":
            self.submitted += 1
        if self.tty and event.kind not in ("failed", "unknown", "skipped"):
            self.rewrite(event.describe())
        else:
            self.line(event.describe())


def cmd_report(args: argparse.Namespace) -> int:
    from ..batch import write_report

    path = write_report(args.directory)  # a BatchInputError is a usage error (exit 2)
    if not args.quiet:
        print(printable(path), flush=True)
    return EXIT_OK
