"""``speedpix report DIR``: rebuild a batch's ``report.html`` from its journal."""

from __future__ import annotations

import argparse

from ._output import EXIT_OK, UsageError, printable

__all__ = ["cmd_report"]


def cmd_report(args: argparse.Namespace) -> int:
    from ..batch import BatchInputError, write_report  # lazy: keeps `speedpix --help` fast

    try:
        path = write_report(args.directory)
    except BatchInputError as error:
        raise UsageError(str(error)) from None
    if not args.quiet:
        print(printable(path), flush=True)
    return EXIT_OK
