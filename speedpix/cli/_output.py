"""What every command shares: the exit codes, the command-line error, and writing to
stdout and stderr."""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Any

__all__ = [
    "EXIT_API",
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TASK_FAILED",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "Interrupted",
    "UsageError",
    "err",
    "json_default",
    "print_json",
    "resume_line",
]

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_TASK_FAILED: "the task failed (batch: at least one job did not succeed)",
    EXIT_USAGE: "usage error: bad arguments or input, missing key, secret or file",
    EXIT_API: "API or authentication error: the service refused the call or could not be reached",
    EXIT_TIMEOUT: "timeout: the task is still running; resume with `speedpix get TASK_ID --wait`",
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
    print(text, file=sys.stderr, flush=True)


def json_default(value: object) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=json_default) + "\n")
    sys.stdout.flush()


def resume_line(task_id: str, out_dir: str | None) -> str:
    line = f"speedpix get {task_id} --wait"
    if out_dir:
        line += f" -o {shlex.quote(out_dir)}"
    return line
