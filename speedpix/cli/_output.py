"""Exit codes, errors and output of every command (what the service sent goes through ``printable`` first)."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from typing import Any

from .._apps.terminal import json_text, printable
from .._core.errors import InvalidInputError, PredictionError, PredictionTimeoutError, SpeedPixException

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_TIMEOUT = 4
EXIT_STOPPED = 5
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_TASK_FAILED: "the task failed (batch: at least one job did not succeed)",
    EXIT_USAGE: "usage error: bad arguments or input, missing key, secret or file",
    EXIT_API: "API or authentication error: the service refused the call or could not be reached",
    EXIT_TIMEOUT: "timeout: the task is still running; resume with `speedpix get TASK_ID --wait`",
    EXIT_STOPPED: "batch stopped early: --max-failures reached; rerun the same command to resume",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); the task keeps running; resume with `speedpix get TASK_ID --wait`",
}


class UsageError(Exception):
    """A mistake in the command line, reported with exit code 2."""


@dataclass(eq=False)
class Interrupted(Exception):
    """Ctrl-C while a command had (or was creating) the task ``task_id``."""

    task_id: str | None


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def print_json(obj: Any, **options: Any) -> None:
    print(json_text(obj, default=str, **options), flush=True)


def resume_line(task_id: str, out_dir: str | None) -> str:
    line = f"speedpix get {printable(task_id)} --wait"
    return f"{line} -o {printable(shlex.quote(out_dir))}" if out_dir else line


_EXIT_FOR = (
    (PredictionTimeoutError, EXIT_TIMEOUT),
    (PredictionError, EXIT_TASK_FAILED),
    ((InvalidInputError, UsageError), EXIT_USAGE),
    (SpeedPixException, EXIT_API),
)


def report_error(error: Exception, args: argparse.Namespace) -> int:
    """Say on stderr (and, with --json, on stdout) what stopped a command; its exit code."""
    if isinstance(error, Interrupted):
        return _report_interrupt(error.task_id, args)
    # EXIT_USAGE as well for an OSError: a local file or directory problem.
    code = next((code for kind, code in _EXIT_FOR if isinstance(error, kind)), EXIT_USAGE)
    task_id = getattr(error, "task_id", None)
    if isinstance(error, PredictionTimeoutError) and task_id:
        lines = [
            f"task {task_id} is still running after the timeout; it keeps running server-side.",
            f"resume with: {resume_line(task_id, getattr(args, 'output_dir', None))}",
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


def _report_interrupt(task_id: str | None, args: argparse.Namespace) -> int:
    line = resume_line(task_id, getattr(args, "output_dir", None)) if task_id else None
    if task_id:
        err(f"\ninterrupted: task {printable(task_id)} keeps running server-side (the API cannot cancel tasks).")
        err(f"resume with: {line}")
    else:
        err("\ninterrupted while submitting: the task may or may not have been created.")
    if getattr(args, "json", False):
        print_json({"task_id": task_id, "status": "interrupted", "exit_code": EXIT_INTERRUPTED, "resume": line})
    return EXIT_INTERRUPTED
