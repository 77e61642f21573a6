"""The ``speedpix`` command: run workflows, follow tasks, upload files, run batches."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .._core.errors import SpeedPixException
from ._batch import cmd_batch, cmd_report
from ._output import EXIT_CODES, EXIT_INTERRUPTED, EXIT_USAGE, Interrupted, UsageError, err, report_error
from ._parser import build_parser
from ._run import cmd_demo, cmd_emulator, cmd_get, cmd_run, cmd_upload

__all__ = ["EXIT_CODES", "main"]

_COMMANDS = {
    "run": cmd_run,
    "get": cmd_get,
    "upload": cmd_upload,
    "batch": cmd_batch,
    "report": cmd_report,
    "demo": cmd_demo,
}


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
    except KeyboardInterrupt:
        err("\ninterrupted.")
        return EXIT_INTERRUPTED
    except (Interrupted, SpeedPixException, UsageError, OSError) as error:
        return report_error(error, args)
