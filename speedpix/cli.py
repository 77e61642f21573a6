"""The ``speedpix`` command: run workflows, follow tasks, upload files, run batches.

``speedpix --help`` lists the commands; each has its own ``--help``. ``main(argv)``
returns the exit code (see ``EXIT_CODES``) instead of exiting, so it can be called
from Python.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from speedpix_api.api.predictions import ComfyPromptRequestOptions

if TYPE_CHECKING:
    from .client import Client
    from .predictions import Prediction

__all__ = ["EXIT_CODES", "main"]

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

EPILOG = (
    "exit codes:\n" + "".join(f"  {code:<3}  {text}\n" for code, text in EXIT_CODES.items()) + "\nenvironment:\n"
    "  SPEEDPIX_APP_KEY, SPEEDPIX_APP_SECRET  credentials (the --app-key/--app-secret flags override them)\n"
    "  SPEEDPIX_ENDPOINT                      API endpoint (default https://openai.edu-aliyun.com)\n"
    "\nTry it offline, no account needed:  speedpix demo"
)

DEFAULT_DEMO_OUTPUT = "speedpix-demo.png"
DEMO_PROMPT = "a lighthouse on a cliff at dawn"


class UsageError(Exception):
    """A mistake in the command line, reported with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


# ---------------------------------------------------------------- output helpers


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _json_default(value: object) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _print_json(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=_json_default) + "\n")
    sys.stdout.flush()


def _resume_line(task_id: str, out_dir: str | None) -> str:
    line = f"speedpix get {task_id} --wait"
    if out_dir:
        line += f" -o {_quote(out_dir)}"
    return line


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


# ---------------------------------------------------------------- argument parsing


def parse_input(items: Sequence[str] | None) -> dict[str, Any]:
    """``key=value`` pairs: a value that is valid JSON is parsed (``width=512`` is a
    number, ``tags=["a","b"]`` a list), anything else is a string; ``key=@path`` is a
    local file, uploaded (or base64-encoded) before the task is submitted."""
    result: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"-i expects KEY=VALUE, got {item!r}")
        if key in result:
            raise UsageError(f"input {key!r} given twice")
        if value.startswith("@"):
            path = Path(value[1:]).expanduser()
            if not value[1:]:
                raise UsageError(f"-i {key}=@PATH needs a file path after '@'")
            if not path.is_file():
                raise UsageError(f"input {key!r}: no such file: {value[1:]}")
            result[key] = path
            continue
        try:
            result[key] = json.loads(value)
        except ValueError:
            result[key] = value
    return result


def parse_options(items: Sequence[str] | None) -> ComfyPromptRequestOptions:
    """``--option key=value`` pairs for the request's optional fields, values as in ``-i``."""
    known = ComfyPromptRequestOptions.__optional_keys__
    result: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise UsageError(f"--option expects KEY=VALUE with KEY one of {', '.join(sorted(known))}; got {item!r}")
        try:
            result[key] = json.loads(value)
        except ValueError:
            result[key] = value
    return cast(ComfyPromptRequestOptions, result)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    connection = _Parser(add_help=False)
    group = connection.add_argument_group("connection (default: the SPEEDPIX_* environment variables)")
    group.add_argument("--endpoint", metavar="URL", help="API endpoint (env SPEEDPIX_ENDPOINT)")
    group.add_argument("--app-key", metavar="KEY", help="app key (env SPEEDPIX_APP_KEY)")
    group.add_argument(
        "--app-secret",
        metavar="SECRET",
        help="app secret (env SPEEDPIX_APP_SECRET; prefer the variable: flags show in the process list)",
    )

    output = _Parser(add_help=False)
    output.add_argument("-o", "--output-dir", metavar="DIR", help="save every output file into DIR and print the paths")
    output.add_argument(
        "--json", action="store_true", help="print exactly one JSON object on stdout (and nothing else there)"
    )
    output.add_argument("-q", "--quiet", action="store_true", help="no progress display on stderr")

    parser = _Parser(
        prog="speedpix",
        description="SpeedPix (智作工坊) from the command line: run ComfyUI workflows, follow tasks, "
        "upload files, run crash-safe batches.",
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"speedpix {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run",
        parents=[output, connection],
        formatter_class=_Formatter,
        help="run a workflow, wait for it, print or save its output",
        description="Submit a workflow task, show its progress on stderr, wait for it, then print its "
        "output (or, with -o, save its files and print their paths).",
        epilog="examples:\n"
        "  speedpix run my-workflow -i prompt='a red fox' -i width=512 -o out/\n"
        "  speedpix run my-workflow -i image=@photo.jpg --json\n\n" + EPILOG,
    )
    run.add_argument("workflow_id", metavar="WORKFLOW_ID", help="the workflow to run")
    run.add_argument(
        "-i",
        "--input",
        action="append",
        metavar="KEY=VALUE",
        help="an input; VALUE is parsed as JSON when it is valid JSON, else kept as a string; "
        "KEY=@PATH is a local file (repeatable)",
    )
    version = run.add_mutually_exclusive_group()
    version.add_argument("--alias", metavar="ALIAS", help="workflow alias to run (default: main)")
    version.add_argument("--version", metavar="VERSION_ID", help="workflow version to run (instead of an alias)")
    run.add_argument("--resource-config-id", metavar="ID", help="resource configuration (default: default)")
    run.add_argument("--randomise-seeds", action="store_true", help="let the service randomise the seeds")
    run.add_argument("--return-temp-files", action="store_true", help="also return temporary files")
    run.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="another field of the comfy_prompt request, from the API spec ("
        + ", ".join(sorted(ComfyPromptRequestOptions.__optional_keys__))
        + "); VALUE is parsed as JSON when it is valid JSON (repeatable)",
    )
    run.add_argument(
        "--timeout", type=_positive_float, metavar="SECONDS", help="give up waiting after this long (exit code 4)"
    )
    run.add_argument(
        "--base64",
        action="store_true",
        help="send file inputs inline as data URIs (files up to 1 MB) instead of uploading",
    )

    get = commands.add_parser(
        "get",
        parents=[output, connection],
        formatter_class=_Formatter,
        help="show a task by id; --wait follows it to the end",
        description="Show a task's status (and its output once finished). With --wait, follow it until it "
        "finishes: this resumes a `speedpix run` that was interrupted or timed out.",
        epilog=EPILOG,
    )
    get.add_argument("task_id", metavar="TASK_ID", help="the task id printed by `speedpix run`")
    get.add_argument("--wait", action="store_true", help="wait until the task finishes")
    get.add_argument(
        "--timeout", type=_positive_float, metavar="SECONDS", help="with --wait: give up after this long (exit code 4)"
    )

    upload = commands.add_parser(
        "upload",
        parents=[connection],
        formatter_class=_Formatter,
        help="upload files, print their access URLs",
        description="Upload local files as temporary files and print one access URL per line, "
        "usable as workflow inputs.",
        epilog=EPILOG,
    )
    upload.add_argument("files", nargs="+", metavar="FILE", help="files to upload")
    upload.add_argument("--json", action="store_true", help="print one JSON object instead of URLs")

    batch = commands.add_parser(
        "batch",
        parents=[connection],
        formatter_class=_Formatter,
        help="run many jobs from a JSONL file; safe to kill and rerun",
        description="Run every job of JOBS.jsonl (one JSON object per line: "
        '{"id": "...", "workflow_id": "...", "input": {...}}, optionally alias_id, version_id, '
        "resource_config_id) with bounded concurrency. In an input, "
        '{"$file": "path"} is a local file (uploaded) and {"$text": "..."} a string sent as it is; a plain '
        "string naming a missing media file (photoz/17.jpg) is refused."
        " A journal in DIR records every submission before "
        "and after it is made: rerunning the same command after a crash, kill or Ctrl-C never submits a "
        "job twice (submitted tasks are followed by id) and keeps every finished result. Files are saved "
        "under DIR/<job id>/, a summary in DIR/results.jsonl.",
        epilog="example:\n"
        '  echo \'{"id": "fox", "workflow_id": "my-workflow", "input": {"prompt": "a fox"}}\' > jobs.jsonl\n'
        "  speedpix batch jobs.jsonl -o out/ --concurrency 8\n\n"
        "a job left 'submitting' by a crash (the task may or may not exist) is reported as 'unknown' and\n"
        "not submitted again unless --resubmit-unknown is given (which risks paying for it twice).\n\n"
        + EPILOG.replace(
            "the task failed (batch: at least one job did not succeed)", "at least one job did not succeed"
        ),
    )
    batch.add_argument("jobs", metavar="JOBS.jsonl", help="the jobs file ('-' reads stdin)")
    batch.add_argument("-o", "--output-dir", metavar="DIR", required=True, help="journal, results and files go here")
    batch.add_argument(
        "--concurrency",
        type=_positive_int,
        default=4,
        metavar="N",
        help="at most N jobs at once (default 4); lowered while the service throttles, raised again as it allows",
    )
    batch.add_argument(
        "--timeout", type=_positive_float, metavar="SECONDS", help="per job: stop waiting after this long"
    )
    batch.add_argument(
        "--resubmit-unknown", action="store_true", help="submit again jobs whose earlier submission is in doubt"
    )
    batch.add_argument("--retry-failed", action="store_true", help="submit again jobs whose task failed")
    batch.add_argument(
        "--strings-as-text",
        action="store_true",
        help='send plain strings as text, never as files (files then only as {"$file": "path"})',
    )
    batch.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    commands.add_parser(
        "emulator",
        add_help=False,
        help="serve a local SpeedPix emulator (see `speedpix emulator --help`)",
        description="Serve the local emulator (needs the 'testing' extra).",
    )

    demo = commands.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="try it offline: run a workflow on a local emulator and save the PNG",
        description="Start a local emulator in this process, run its demo-txt2img workflow through the "
        "public API with a progress line, save the PNG and print its path. No account, no network, "
        "no environment variables needed.",
        epilog=EPILOG,
    )
    demo.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default=DEFAULT_DEMO_OUTPUT,
        help=f"where to save (default {DEFAULT_DEMO_OUTPUT})",
    )
    demo.add_argument("--prompt", default=DEMO_PROMPT, help="what to draw")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress display on stderr")
    return parser


# ---------------------------------------------------------------- commands


def _client(args: argparse.Namespace, **options: Any) -> Client:
    from .client import Client

    # Said in the command's terms (the Client's own message speaks Python: app_key=...).
    if not (args.app_key if args.app_key is not None else os.environ.get("SPEEDPIX_APP_KEY")):
        raise UsageError("missing app key: set SPEEDPIX_APP_KEY or pass --app-key KEY")
    if not (args.app_secret if args.app_secret is not None else os.environ.get("SPEEDPIX_APP_SECRET")):
        raise UsageError(
            "missing app secret: set SPEEDPIX_APP_SECRET (or pass --app-secret SECRET; the variable is safer: "
            "flags show in the process list)"
        )
    return Client(app_key=args.app_key, app_secret=args.app_secret, endpoint=args.endpoint, **options)


def _progress(args: argparse.Namespace) -> Any:
    from ._apps.progress import ProgressDisplay

    return ProgressDisplay(sys.stderr, enabled=not getattr(args, "quiet", False))


class _Interrupted(Exception):
    def __init__(self, task_id: str | None) -> None:
        super().__init__(task_id)
        self.task_id = task_id


def _finish(prediction: Prediction, args: argparse.Namespace, display: Any, *, waited: bool = True) -> int:
    """Report a prediction: print or save its output; the exit code."""
    from ._apps.progress import describe
    from ._apps.saving import save_outputs

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
        files = save_outputs(prediction.output, out_dir) if out_dir else []
        result["files"] = [str(path) for path in files]
        if args.json:
            _print_json(result)
        elif out_dir:
            for path in files:
                print(path, flush=True)
            if not files:
                _err(f"task {prediction.id} succeeded; its output has no files.")
        else:
            print(json.dumps(prediction.output, ensure_ascii=False, indent=2, default=_json_default), flush=True)
        return EXIT_OK
    if prediction.done:
        code = f" ({prediction.error_code})" if prediction.error_code else ""
        if args.json:
            _print_json(result)
        _err(f"error: task {prediction.id} {prediction.status}: {prediction.error or 'no error message'}{code}")
        return EXIT_TASK_FAILED
    # Not finished (only without --wait).
    if args.json:
        result.update(progress=prediction.progress, queue_position=prediction.queue_position, eta=prediction.eta)
        _print_json(result)
    else:
        print(describe(prediction), flush=True)
        _err(f"follow it with: {_resume_line(prediction.id, out_dir)}")
    return EXIT_OK


def _listener(display: Any) -> Any:
    """The progress line as ``on_progress``, or None under -q: a listener makes the wait
    poll every second, which only pays when someone watches."""
    return display if display.enabled else None


def _wait(prediction: Prediction, args: argparse.Namespace, display: Any, timeout: float | None) -> int:
    try:
        prediction.wait(timeout=timeout, on_progress=_listener(display))
        return _finish(prediction, args, display)
    except KeyboardInterrupt:
        display.finish()
        raise _Interrupted(prediction.id) from None


def cmd_run(args: argparse.Namespace) -> int:
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
    display = _progress(args)
    with _client(args) as client:
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
            raise _Interrupted(None) from None
        display.message(f"submitted task {prediction.id} (workflow {args.workflow_id})")
        display.update(prediction)
        remaining = None if args.timeout is None else max(args.timeout - (time.monotonic() - started), 0.001)
        return _wait(prediction, args, display, remaining)


def cmd_get(args: argparse.Namespace) -> int:
    display = _progress(args)
    with _client(args) as client:
        try:
            prediction = client.predictions.get(args.task_id)
        except KeyboardInterrupt:
            raise _Interrupted(args.task_id) from None
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
    with _client(args) as client:
        for path in paths:
            file = client.files.create(path)
            uploaded.append(
                {"path": str(path), "access_url": file.access_url, "content_type": file.content_type, "size": file.size}
            )
            if not args.json:
                print(file.access_url, flush=True)
    if args.json:
        _print_json({"files": uploaded})
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import BatchInputError, run_batch

    status = _BatchStatus(sys.stderr, enabled=not args.quiet)
    try:
        with _client(args, detect_file_paths=not args.strings_as_text) as client:
            summary = run_batch(
                sys.stdin if args.jobs == "-" else args.jobs,
                args.output_dir,
                client=client,
                concurrency=args.concurrency,
                timeout=args.timeout,
                on_event=status,
                resubmit_unknown=args.resubmit_unknown,
                retry_failed=args.retry_failed,
            )
    except BatchInputError as error:
        raise UsageError(str(error)) from None
    except KeyboardInterrupt:
        status.finish()
        status.enabled = False  # workers may still report; the message below is the last word
        _err(
            "interrupted. Every submitted task is in the journal; rerun the same command to resume "
            "(nothing is submitted twice)."
        )
        return EXIT_INTERRUPTED
    status.finish()
    _err(summary.count_line())
    if args.json:
        _print_json(summary.to_dict())
    else:
        print(summary.results_path, flush=True)
    return EXIT_OK if summary.ok else EXIT_TASK_FAILED


class _BatchStatus:
    """Batch progress on stderr: one line per job event (rewritten in place on a terminal)."""

    def __init__(self, stream: Any, *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(isatty()) if callable(isatty) else False
        self._live = False

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        line = event.describe()
        try:
            if self.tty and event.kind not in ("failed", "unknown", "skipped"):
                self.stream.write("\r\x1b[K" + line)
                self._live = True
            else:
                if self._live:
                    self.stream.write("\n")
                    self._live = False
                self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def finish(self) -> None:
        if self._live:
            self.stream.write("\n")
            self._live = False


def cmd_emulator(argv: Sequence[str]) -> int:
    try:
        from .testing._serve import main as serve
        from .testing._server import require_uvicorn

        if not {"-h", "--help"} & set(argv):
            require_uvicorn()
    except ImportError as error:
        _err(f"error: {_one_line(error)}")
        return EXIT_USAGE
    try:
        return serve(list(argv))
    except SystemExit as exit:  # its argparse: --help, or a usage error
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[0] if text else type(error).__name__
    if "testing" not in message:
        message = f"{message} (speedpix emulator needs the 'testing' extra: pip install '.[testing]' in its clone)"
    return message


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from .testing import Emulator
    except ImportError as error:
        _err(f"error: {_one_line(error)}")
        return EXIT_USAGE
    from ._apps.progress import ProgressDisplay
    from .client import Client

    target = Path(args.output).expanduser()
    if target.is_dir():
        target = target / DEFAULT_DEMO_OUTPUT
    display = ProgressDisplay(sys.stderr, enabled=not args.quiet)
    try:
        emulator = Emulator()
    except ImportError as error:
        _err(f"error: {_one_line(error)}")
        return EXIT_USAGE
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
            prediction.wait(timeout=60, on_progress=_listener(display))
            display.finish()
            if prediction.status != "succeeded":
                _err(f"error: demo task {prediction.status}: {prediction.error}")
                return EXIT_TASK_FAILED
            if target.parent != Path():
                target.parent.mkdir(parents=True, exist_ok=True)
            saved = prediction.output["images"].save(target)
    print(saved, flush=True)
    return EXIT_OK


# ---------------------------------------------------------------- main


def _exit_code(error: BaseException) -> int:
    from ._core.errors import (
        APIConnectionError,
        APIError,
        InvalidInputError,
        PredictionError,
        PredictionTimeoutError,
        SpeedPixException,
    )

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
    from ._core.errors import PredictionTimeoutError

    code = _exit_code(error)
    task_id = getattr(error, "task_id", None)
    out_dir = getattr(args, "output_dir", None)
    if isinstance(error, PredictionTimeoutError) and task_id:
        message = (
            f"task {task_id} is still running after the timeout; it keeps running server-side.\n"
            f"resume with: {_resume_line(task_id, out_dir)}"
        )
    else:
        message = str(error) if not isinstance(error, OSError) else f"{error.strerror or error}: {error.filename or ''}"
    if getattr(args, "json", False):
        _print_json({"task_id": task_id, "status": "error", "exit_code": code, "error": message})
    _err(f"error: {message}")
    return code


def _report_interrupt(interrupt: _Interrupted, args: argparse.Namespace) -> int:
    task_id = interrupt.task_id
    if task_id:
        line = _resume_line(task_id, getattr(args, "output_dir", None))
        _err(f"\ninterrupted: task {task_id} keeps running server-side (the API cannot cancel tasks).")
        _err(f"resume with: {line}")
    else:
        line = None
        _err("\ninterrupted while submitting: the task may or may not have been created.")
    if getattr(args, "json", False):
        _print_json({"task_id": task_id, "status": "interrupted", "exit_code": EXIT_INTERRUPTED, "resume": line})
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
    handler = {
        "run": cmd_run,
        "get": cmd_get,
        "upload": cmd_upload,
        "batch": cmd_batch,
        "demo": cmd_demo,
    }[args.command]
    from ._core.errors import SpeedPixException

    try:
        return handler(args)
    except _Interrupted as interrupt:
        return _report_interrupt(interrupt, args)
    except KeyboardInterrupt:
        _err("\ninterrupted.")
        return EXIT_INTERRUPTED
    except (SpeedPixException, UsageError, OSError) as error:
        return _report_error(error, args)


if __name__ == "__main__":
    sys.exit(main())
