"""``speedpix emulator`` and ``speedpix demo``: the local emulator, no account needed."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ._output import EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE, err, printable
from ._parser import DEFAULT_DEMO_OUTPUT
from ._run import display_for, listener

__all__ = ["cmd_demo", "cmd_emulator"]


def _missing_extra(error: ImportError) -> int:
    """Say, in one line, that the emulator cannot start without the 'testing' extra."""
    text = str(error).strip().splitlines()
    message = text[0] if text else type(error).__name__
    if "testing" not in message:
        message = f"{message} (speedpix emulator needs the 'testing' extra: pip install '.[testing]' in its clone)"
    err(f"error: {printable(message)}")
    return EXIT_USAGE


def cmd_emulator(argv: Sequence[str]) -> int:
    try:
        # Lazy, as every import of the emulator here: it needs the 'testing' extra.
        from ..testing._serve import main as serve
        from ..testing._server import require_uvicorn

        if not {"-h", "--help"} & set(argv):
            require_uvicorn()
    except ImportError as error:
        return _missing_extra(error)
    try:
        return serve(list(argv))
    except SystemExit as exit:  # its argparse: --help, or a usage error
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from ..testing import Emulator  # lazy: needs the 'testing' extra
    except ImportError as error:
        return _missing_extra(error)
    from ..client import Client  # lazy: keeps `speedpix --help` fast

    target = Path(args.output).expanduser()
    if target.is_dir():
        target = target / DEFAULT_DEMO_OUTPUT
    display = display_for(args)
    try:
        emulator = Emulator()
    except ImportError as error:
        return _missing_extra(error)
    with emulator as emu:
        # A short queue and a couple of seconds of "generation", so the progress display
        # shows what a real task looks like.
        emu.configure("demo-txt2img", queue_time=0.5, duration=1.5)
        display.message(f"local emulator at {emu.endpoint} (no account or network needed)")
        # The public API, exactly as a user would call it against the real service.
        with Client(emu.app_key, emu.app_secret, endpoint=emu.endpoint) as client:
            prediction = client.predictions.create("demo-txt2img", {"prompt": args.prompt})
            display.message(f"submitted task {prediction.id} (workflow demo-txt2img): {args.prompt!r}")
            display.update(prediction)
            prediction.wait(timeout=60, on_progress=listener(display))
            display.finish()
            if prediction.status != "succeeded":
                err(f"error: demo task {printable(prediction.status)}: {printable(prediction.error)}")
                return EXIT_TASK_FAILED
            if target.parent != Path():
                target.parent.mkdir(parents=True, exist_ok=True)
            saved = prediction.output["images"].save(target)
    print(printable(saved), flush=True)
    return EXIT_OK
