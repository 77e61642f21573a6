"""What every command shares: the exit codes, the command-line error, and writing to
stdout and stderr.

Text from the service (task ids, statuses, error messages, URLs, file names) goes
through ``printable`` (JSON through ``json_text``) before it reaches either stream:
never raw to a terminal."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from .._apps.terminal import json_text, printable

__all__ = [
    "EXIT_API",
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_TASK_FAILED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "Interrupted",
    "UsageError",
    "err",
    "json_default",
    "print_json",
    "printable",
    "resume_line",
]

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


class Interrupted(Exception):
    """Ctrl-C while a command had (or was creating) the task ``task_id``."""

    def __init__(self, task_id: str | None) -> None:
        super().__init__(task_id)
        self.task_id = task_id


def err(text: str) -> None:
    """A message of ours on stderr; what it quotes from the service is ``printable`` already."""
    print(text, file=sys.stderr, flush=True)


def json_default(value: object) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json_text(obj, default=json_default) + "\n")
    sys.stdout.flush()


def resume_line(task_id: str, out_dir: str | None) -> str:
    line = f"speedpix get {printable(task_id)} --wait"
    if out_dir:
        line += f" -o {printable(shlex.quote(out_dir))}"
    return line
