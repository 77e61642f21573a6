"""``speedpix run``, ``get`` and ``upload``: one task (or file) at a time."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._apps.terminal import json_text
from ._output import (
    EXIT_OK,
    EXIT_TASK_FAILED,
    Interrupted,
    UsageError,
    err,
    json_default,
    print_json,
    printable,
    resume_line,
)
from ._parser import parse_input, parse_options

if TYPE_CHECKING:
    from .._apps.progress import ProgressDisplay
    from .._apps.saving import SavedFile
    from ..client import Client
    from ..predictions import Prediction

__all__ = ["cmd_get", "cmd_run", "cmd_upload", "display_for", "listener", "make_client"]


def make_client(args: argparse.Namespace, **options: Any) -> Client:
    # Lazy, as every import of the service's client here: `speedpix --help` stays fast.
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


def display_for(args: argparse.Namespace) -> ProgressDisplay:
    from .._apps.progress import ProgressDisplay  # lazy: keeps `speedpix --help` fast

    return ProgressDisplay(sys.stderr, enabled=not getattr(args, "quiet", False))


def listener(display: ProgressDisplay) -> ProgressDisplay | None:
    """The progress line as ``on_progress``, or None under -q: a listener makes the wait
    poll every second, which only pays when someone watches."""
    return display if display.enabled else None


def _finish(prediction: Prediction, args: argparse.Namespace, display: ProgressDisplay) -> int:
    """Report a prediction: print or save its output; the exit code."""
    # Lazy (both): keeps `speedpix --help` fast.
    from .._apps.saving import is_storage_url, save_outputs, save_outputs_to_storage
    from .._apps.terminal import describe

    display.finish()
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
        saved: list[SavedFile] = []
        if out_dir and is_storage_url(out_dir):  # s3://bucket/prefix… (speedpix[storage])
            saved = save_outputs_to_storage(prediction.output, out_dir)
        elif out_dir:
            saved = save_outputs(prediction.output, out_dir)
        files = [file.path for file in saved]
        result["files"] = [str(path) for path in files]
        if args.json:
            print_json(result)
        elif out_dir:
            for path in files:
                print(printable(path), flush=True)
            if not files:
                err(f"task {printable(prediction.id)} succeeded; its output has no files.")
        else:
            print(json_text(prediction.output, indent=2, default=json_default), flush=True)
        return EXIT_OK
    if prediction.done:
        code = f" ({printable(prediction.error_code)})" if prediction.error_code else ""
        if args.json:
            print_json(result)
        error = printable(prediction.error or "no error message")
        err(f"error: task {printable(prediction.id)} {printable(prediction.status)}: {error}{code}")
        return EXIT_TASK_FAILED
    # Not finished (only without --wait).
    if args.json:
        result.update(progress=prediction.progress, queue_position=prediction.queue_position, eta=prediction.eta)
        print_json(result)
    else:
        print(printable(describe(prediction)), flush=True)
        err(f"follow it with: {resume_line(prediction.id, out_dir)}")
    return EXIT_OK


def _wait(prediction: Prediction, args: argparse.Namespace, display: ProgressDisplay, timeout: float | None) -> int:
    try:
        prediction.wait(timeout=timeout, on_progress=listener(display))
        return _finish(prediction, args, display)
    except KeyboardInterrupt:
        display.finish()
        raise Interrupted(prediction.id) from None


def _check_output_dir(args: argparse.Namespace) -> None:
    """A storage URL given to -o is checked before any task is submitted or waited for."""
    if args.output_dir and "://" in args.output_dir:
        from .._apps.saving import check_storage_folder, is_storage_url  # lazy: fsspec only for URLs

        if is_storage_url(args.output_dir):
            check_storage_folder(args.output_dir)


def cmd_run(args: argparse.Namespace) -> int:
    _check_output_dir(args)
    inputs = parse_input(args.input)
    options = parse_options(args.option)
    if args.alias is not None:
        options["alias_id"] = args.alias
    if args.version is not None:
        options["version_id"] = args.version
    if args.randomise_seeds:
        options["randomise_seeds"] = True
    if args.return_temp_files:
        options["return_temp_files"] = True
    display = display_for(args)
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
        display.update(prediction)
        remaining = None if args.timeout is None else max(args.timeout - (time.monotonic() - started), 0.001)
        return _wait(prediction, args, display, remaining)


def cmd_get(args: argparse.Namespace) -> int:
    _check_output_dir(args)
    display = display_for(args)
    with make_client(args) as client:
        try:
            prediction = client.predictions.get(args.task_id)
        except KeyboardInterrupt:
            raise Interrupted(args.task_id) from None
        if args.wait and not prediction.done:
            display.update(prediction)
            return _wait(prediction, args, display, args.timeout)
        return _finish(prediction, args, display)


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
