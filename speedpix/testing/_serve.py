"""The emulator as a command: ``speedpix emulator`` / ``python -m speedpix.testing``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from ._workflows import builtin_names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speedpix emulator",
        description="Serve a local SpeedPix emulator (API gateway, task API, storage) until interrupted with Ctrl-C.",
        epilog=f"Built-in workflows here: {', '.join(builtin_names())}"
        + ("" if "demo-img2img" in builtin_names() else " (demo-img2img needs Pillow: pip install 'speedpix[images]')"),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to bind, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument("--app-key", default="test-app-key", help="accepted AppKey (default: %(default)s)")
    parser.add_argument("--app-secret", default="test-app-secret", help="its AppSecret (default: %(default)s)")
    parser.add_argument(
        "--max-submissions-per-second",
        type=float,
        metavar="N",
        help="quota: submissions beyond N per second get the gateway's 403 'Throttled by APP Flow Control'",
    )
    parser.add_argument(
        "--max-running-tasks",
        type=int,
        metavar="M",
        help="quota: a submission while M tasks are unfinished gets B_API_CauseFlowControl",
    )
    parser.add_argument(
        "--sensitive-word",
        action="append",
        default=[],
        metavar="WORD",
        dest="sensitive_words",
        help="refuse a submission whose inputs contain WORD (any case) with B_API_AuditFailed, "
        "as the content-security check does; repeat for more words",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from speedpix.testing._server import MissingExtraError

    try:
        from speedpix.testing._emulator import Emulator

        emulator = Emulator(**vars(args))  # each option is named as the parameter it sets
        emulator.start()
    except MissingExtraError as exc:
        print(exc, file=sys.stderr)
        return 1
    except ValueError as exc:  # a quota that is not a positive number, an empty word
        print(f"speedpix emulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"speedpix emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # SIGTERM stops as cleanly as Ctrl-C (the stored files are deleted either way).
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"SpeedPix emulator serving on {emulator.endpoint}")
        print(f"  SPEEDPIX_ENDPOINT={emulator.endpoint}")
        print(f"  SPEEDPIX_APP_KEY={emulator.app_key}")
        print(f"  SPEEDPIX_APP_SECRET={emulator.app_secret}")
        limits = [
            f"{value} {what}"
            for value, what in (
                (args.max_submissions_per_second, "submissions/s"),
                (args.max_running_tasks, "unfinished tasks"),
            )
            if value is not None
        ]
        if limits:
            print(f"  Quota per app key: at most {' and '.join(limits)}")
        if emulator.sensitive_words:
            words = ", ".join(repr(word) for word in emulator.sensitive_words)
            print(f"  Content check: submissions containing {words} get B_API_AuditFailed")
        print(f"Built-in workflows: {', '.join(emulator.workflows)} (alias main). Press Ctrl-C to stop.")
        sys.stdout.flush()
        # Short waits, not one long one: the OS may deliver the signal to the server's
        # thread, and Python then runs our handler only once the main thread wakes up.
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.stop()
    print("SpeedPix emulator stopped.")
    return 0
