"""``speedpix run``, ``get``, ``upload``, ``demo``, ``emulator``; client imports are lazy (fast ``--help``)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._apps.terminal import printable
from ._output import EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE, Interrupted, UsageError, err, print_json, resume_line
from ._parser import DEFAULT_DEMO_OUTPUT, parse_input, parse_options

if TYPE_CHECKING:
    from .._apps.progress import ProgressDisplay
    from ..client import Client
    from ..predictions import Prediction


def make_client(args: argparse.Namespace, **options: Any) -> Client:
    from ..client import Client

    # Said in the command's terms (the Client's own message speaks Python: app_key=...).
    if not (args.app_key if args.app_key is not None else os.environ.get("SPEEDPIX_APP_KEY")):
        raise UsageError("missing app key: set SPEEDPIX_APP_KEY or pass --app-key KEY")
    if not (args.app_secret if args.app_secret is not None else os.environ.get("SPEEDPIX_APP_SECRET")):
        raise UsageError(
            "missing app secret: set SPEEDPIX_APP_SECRET (or pass --app-secret SECRET; the variable is safer: "
            "flags show in the process list)"
        )
    return Client(app_key=args.app_key, app_secret=args.app_secret, endpoint=args.endpoint, **options)


def _display(args: argparse.Namespace) -> ProgressDisplay:
    from .._apps.progress import ProgressDisplay

    return ProgressDisplay(sys.stderr, enabled=not args.quiet)


def _wait(prediction: Prediction, display: ProgressDisplay, timeout: float | None) -> None:
    # Under -q, no listener: one makes the wait poll every second, which only pays when someone watches.
    prediction.wait(timeout=timeout, on_progress=display if display.enabled else None)
    display.finish()


def _finish(prediction: Prediction, args: argparse.Namespace) -> int:
    """Print or save a prediction's output; the exit code."""
    from .._apps.saving import is_storage_url, save_outputs, save_outputs_to_storage
    from .._apps.terminal import describe

    out_dir: str | None = args.output_dir
    result: dict[str, Any] = {
        "task_id": prediction.id,
        "status": prediction.status,
        "output": prediction.output,
        "files": [],
        "error": prediction.error,
        "error_code": prediction.error_code,
    }
    if prediction.status == "succeeded":
        if out_dir and is_storage_url(out_dir):  # s3://bucket/prefix… (speedpix[storage])
            result["files"] = [str(file.path) for file in save_outputs_to_storage(prediction.output, out_dir)]
        elif out_dir:
            result["files"] = [str(file.path) for file in save_outputs(prediction.output, out_dir)]
        if args.json:
            print_json(result)
        elif not out_dir:
            print_json(prediction.output, indent=2)
        elif result["files"]:
            print("\n".join(printable(path) for path in result["files"]), flush=True)
        else:
            err(f"task {printable(prediction.id)} succeeded; its output has no files.")
        return EXIT_OK
    if prediction.done:
        if args.json:
            print_json(result)
        code = f" ({printable(prediction.error_code)})" if prediction.error_code else ""
        error = printable(prediction.error or "no error message")
        err(f"error: task {printable(prediction.id)} {printable(prediction.status)}: {error}{code}")
        return EXIT_TASK_FAILED
    if args.json:  # not finished (only without --wait)
        print_json(
            result
            | {"progress": prediction.progress, "queue_position": prediction.queue_position, "eta": prediction.eta}
        )
    else:
        print(printable(describe(prediction)), flush=True)
        err(f"follow it with: {resume_line(prediction.id, out_dir)}")
    return EXIT_OK


def _follow(prediction: Prediction, args: argparse.Namespace, display: ProgressDisplay, timeout: float | None) -> int:
    display.update(prediction)
    try:
        _wait(prediction, display, timeout)
        return _finish(prediction, args)
    except KeyboardInterrupt:
        display.finish()
        raise Interrupted(prediction.id) from None


def _check_output_dir(args: argparse.Namespace) -> None:
    """A storage URL given to -o is checked before any task is submitted or waited for."""
    if args.output_dir and "://" in args.output_dir:
        from .._apps.saving import check_storage_folder, is_storage_url  # fsspec only for URLs

        if is_storage_url(args.output_dir):
            check_storage_folder(args.output_dir)


def cmd_run(args: argparse.Namespace) -> int:
    _check_output_dir(args)
    inputs = parse_input(args.input)
    options: dict[str, Any] = dict(parse_options(args.option))
    for key in ("alias_id", "version_id", "randomise_seeds", "return_temp_files"):  # their own flags
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    display = _display(args)
    with make_client(args) as client:
        started = time.monotonic()
        try:
            prediction = client.predictions.create(
                args.workflow_id,
                inputs,
                resource_config_id=args.resource_config_id,
                file_encoding_strategy="base64" if args.base64 else "url",
                timeout=args.timeout,
                **options,
            )
        except KeyboardInterrupt:
            raise Interrupted(None) from None
        display.message(f"submitted task {prediction.id} (workflow {args.workflow_id})")
        remaining = None if args.timeout is None else max(args.timeout - (time.monotonic() - started), 0.001)
        return _follow(prediction, args, display, remaining)


def cmd_get(args: argparse.Namespace) -> int:
    _check_output_dir(args)
    with make_client(args) as client:
        try:
            prediction = client.predictions.get(args.task_id)
        except KeyboardInterrupt:
            raise Interrupted(args.task_id) from None
        if args.wait and not prediction.done:
            return _follow(prediction, args, _display(args), args.timeout)
        return _finish(prediction, args)


def cmd_upload(args: argparse.Namespace) -> int:
    paths = [Path(name).expanduser() for name in args.files]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise UsageError("no such file: " + ", ".join(missing))
    uploaded: list[dict[str, Any]] = []
    with make_client(args) as client:
        for path in paths:
            file = client.files.create(path)
            uploaded.append(
                {"path": str(path), "access_url": file.access_url, "content_type": file.content_type, "size": file.size}
            )
            if not args.json:
                print(printable(file.access_url), flush=True)
    if args.json:
        print_json({"files": uploaded})
    return EXIT_OK


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
        from ..testing import Emulator

        emulator = Emulator()
    except ImportError as error:
        return _missing_extra(error)
    from ..client import Client

    target = Path(args.output).expanduser()
    if target.is_dir():
        target /= DEFAULT_DEMO_OUTPUT
    display = _display(args)
    with emulator as emu:
        # A short queue and a couple of seconds of "generation": the progress a real task shows.
        emu.configure("demo-txt2img", queue_time=0.5, duration=1.5)
        display.message(f"local emulator at {emu.endpoint} (no account or network needed)")
        with Client(emu.app_key, emu.app_secret, endpoint=emu.endpoint) as client:  # as a user would
            prediction = client.predictions.create("demo-txt2img", {"prompt": args.prompt})
            display.message(f"submitted task {prediction.id} (workflow demo-txt2img): {args.prompt!r}")
            display.update(prediction)
            _wait(prediction, display, 60)
            if prediction.status != "succeeded":
                err(f"error: demo task {printable(prediction.status)}: {printable(prediction.error)}")
                return EXIT_TASK_FAILED
            target.parent.mkdir(parents=True, exist_ok=True)
            saved = prediction.output["images"].save(target)
    print(printable(saved), flush=True)
    return EXIT_OK
