"""The ``speedpix`` command: run workflows, follow tasks, upload files, run batches.

``speedpix --help`` lists the commands; each has its own ``--help``. ``main(argv)``
returns the exit code (see ``EXIT_CODES``) instead of exiting, so it can be called
from Python.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._core.errors import (
    APIConnectionError,
    APIError,
    InvalidInputError,
    PredictionError,
    PredictionTimeoutError,
    SpeedPixException,
)
from ._batch import cmd_batch
from ._emulator import cmd_demo, cmd_emulator
from ._output import (
    EXIT_API,
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_TASK_FAILED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    Interrupted,
    UsageError,
    err,
    print_json,
    printable,
    resume_line,
)
from ._parser import build_parser
from ._report import cmd_report
from ._run import cmd_get, cmd_run, cmd_upload

__all__ = ["EXIT_CODES", "main"]

_COMMANDS = {
    "run": cmd_run,
    "get": cmd_get,
    "upload": cmd_upload,
    "batch": cmd_batch,
    "report": cmd_report,
    "demo": cmd_demo,
}


def _exit_code(error: BaseException) -> int:
    if isinstance(error, PredictionTimeoutError):
        return EXIT_TIMEOUT
    if isinstance(error, PredictionError):
        return EXIT_TASK_FAILED
    if isinstance(error, InvalidInputError | UsageError):
        return EXIT_USAGE
    if isinstance(error, APIError | APIConnectionError | SpeedPixException):
        return EXIT_API
    return EXIT_USAGE  # OSError: a local file or directory problem


def _report_error(error: BaseException, args: argparse.Namespace) -> int:
    code = _exit_code(error)
    task_id = getattr(error, "task_id", None)
    out_dir = getattr(args, "output_dir", None)
    if isinstance(error, PredictionTimeoutError) and task_id:
        lines = [
            f"task {task_id} is still running after the timeout; it keeps running server-side.",
            f"resume with: {resume_line(task_id, out_dir)}",
        ]
    elif isinstance(error, OSError):
        lines = [f"{error.strerror or error}: {error.filename or ''}"]
    elif isinstance(error, UsageError):  # the CLI's own words (a jobs file's problems: one a line)
        lines = str(error).split("\n")
    else:  # the service's words may be in it: one line, whatever they hold
        lines = [str(error)]
    if getattr(args, "json", False):
        print_json({"task_id": task_id, "status": "error", "exit_code": code, "error": "\n".join(lines)})
    err("error: " + "\n".join(printable(line) for line in lines))
    return code


def _report_interrupt(interrupt: Interrupted, args: argparse.Namespace) -> int:
    task_id = interrupt.task_id
    if task_id:
        line = resume_line(task_id, getattr(args, "output_dir", None))
        err(f"\ninterrupted: task {printable(task_id)} keeps running server-side (the API cannot cancel tasks).")
        err(f"resume with: {line}")
    else:
        line = None
        err("\ninterrupted while submitting: the task may or may not have been created.")
    if getattr(args, "json", False):
        print_json({"task_id": task_id, "status": "interrupted", "exit_code": EXIT_INTERRUPTED, "resume": line})
    return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``speedpix`` command with ``argv`` (default ``sys.argv[1:]``); the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "emulator":
        return cmd_emulator(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _COMMANDS[args.command](args)
    except Interrupted as interrupt:
        return _report_interrupt(interrupt, args)
    except KeyboardInterrupt:
        err("\ninterrupted.")
        return EXIT_INTERRUPTED
    except (SpeedPixException, UsageError, OSError) as error:
        return _report_error(error, args)
