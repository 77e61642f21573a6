"""The command line's grammar: every command's parser, and the ``-i``/``--option`` values."""

from __future__ import annotations

import argparse
import functools
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

from speedpix_api.api.predictions import ComfyPromptRequestOptions

from .._core import jsontext
from .._version import __version__
from ._output import EXIT_CODES, UsageError

EPILOG = (
    "exit codes:\n" + "".join(f"  {code:<3}  {text}\n" for code, text in EXIT_CODES.items()) + "\nenvironment:\n"
    "  SPEEDPIX_APP_KEY, SPEEDPIX_APP_SECRET  credentials (the --app-key/--app-secret flags override them)\n"
    "  SPEEDPIX_ENDPOINT                      API endpoint (default https://openai.edu-aliyun.com)\n"
    "\nTry it offline, no account needed:  speedpix demo"
)
DEFAULT_DEMO_OUTPUT = "speedpix-demo.png"
_OPTION_KEYS = sorted(ComfyPromptRequestOptions.__optional_keys__)


class _Parser(argparse.ArgumentParser):
    """Its help ends with ``EPILOG`` unless told otherwise; a usage error exits with 2, EXIT_USAGE."""

    def __init__(self, *, epilog: str | None = EPILOG, **kwargs: Any) -> None:
        formatter = functools.partial(argparse.RawDescriptionHelpFormatter, max_help_position=32)
        super().__init__(epilog=epilog, formatter_class=formatter, **kwargs)


def _json_or_text(value: str) -> Any:
    try:
        return jsontext.loads(value)
    except json.JSONDecodeError:
        return value
    except ValueError as error:  # JSON, but nested too deeply to read
        raise UsageError(f"{value[:20]}…: JSON {error}") from None


def parse_input(items: Sequence[str] | None) -> dict[str, Any]:
    """``-i key=value`` pairs: JSON when the value is valid JSON, else a string; ``key=@path`` a local file."""
    result: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"-i expects KEY=VALUE, got {item!r}")
        if key in result:
            raise UsageError(f"input {key!r} given twice")
        if not value.startswith("@"):
            result[key] = _json_or_text(value)
        elif not value[1:]:
            raise UsageError(f"-i {key}=@PATH needs a file path after '@'")
        elif not (path := Path(value[1:]).expanduser()).is_file():
            raise UsageError(f"input {key!r}: no such file: {value[1:]}")
        else:
            result[key] = path
    return result


def parse_options(items: Sequence[str] | None) -> ComfyPromptRequestOptions:
    """``--option key=value`` pairs for the request's optional fields, values as in ``-i``."""
    result: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in _OPTION_KEYS:
            raise UsageError(f"--option expects KEY=VALUE with KEY one of {', '.join(_OPTION_KEYS)}; got {item!r}")
        result[key.strip()] = _json_or_text(value)
    return cast(ComfyPromptRequestOptions, result)


def _seconds(text: str) -> float:
    """An argparse ``type``: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _opt(metavar: str, help: str, **settings: Any) -> dict[str, Any]:
    return {"metavar": metavar, "help": help, **settings}


def _flag(help: str, **settings: Any) -> dict[str, Any]:
    return {"action": "store_true", "help": help, **settings}


def _options(add_argument: Callable[..., object], table: dict[str, dict[str, Any]]) -> None:
    """``add_argument(*names, **settings)`` for each ``"-o --output-dir": settings`` of ``table``."""
    for names, settings in table.items():
        add_argument(*names.split(), **settings)


_CONNECTION = {
    "--endpoint": _opt("URL", "API endpoint (env SPEEDPIX_ENDPOINT)"),
    "--app-key": _opt("KEY", "app key (env SPEEDPIX_APP_KEY)"),
    "--app-secret": _opt("SECRET", "app secret (env SPEEDPIX_APP_SECRET, safer: flags show in the process list)"),
}
_OUTPUT = {
    "-o --output-dir": _opt("DIR", "save every output file into DIR (or a storage URL: s3://bucket/prefix/)"),
    "--json": _flag("print exactly one JSON object on stdout (and nothing else there)"),
    "-q --quiet": _flag("no progress display on stderr"),
}


class _Command(NamedTuple):
    parents: str  # "output" (with "connection"), "connection" or ""
    help: str
    description: str
    options: dict[str, dict[str, Any]]
    epilog: str = EPILOG


_COMMANDS = {
    "run": _Command(
        "output",
        "run a workflow, wait for it, print or save its output",
        "Submit a workflow task, show its progress on stderr, wait for it, then print its output "
        "(or, with -o, save its files and print their paths).",
        {
            "workflow_id": _opt("WORKFLOW_ID", "the workflow to run"),
            "-i --input": _opt("KEY=VALUE", "an input (JSON if valid, else text); KEY=@PATH: a file", action="append"),
            "--resource-config-id": _opt("ID", "resource configuration (default: default)"),
            "--randomise-seeds": _flag("let the service randomise the seeds", default=None),
            "--return-temp-files": _flag("also return temporary files", default=None),
            "--option": _opt("KEY=VALUE", f"a request field ({', '.join(_OPTION_KEYS)}), as -i", action="append"),
            "--timeout": _opt("SECONDS", "give up waiting after this long (exit code 4)", type=_seconds),
            "--base64": _flag("send file inputs inline as data URIs (files up to 1 MB) instead of uploading"),
        },
        "examples:\n"
        "  speedpix run my-workflow -i prompt='a red fox' -i width=512 -o out/\n"
        "  speedpix run my-workflow -i image=@photo.jpg --json\n\n" + EPILOG,
    ),
    "get": _Command(
        "output",
        "show a task by id; --wait follows it to the end",
        "Show a task's status (and its output once finished). With --wait, follow it until it finishes: "
        "this resumes a `speedpix run` that was interrupted or timed out.",
        {
            "task_id": _opt("TASK_ID", "the task id printed by `speedpix run`"),
            "--wait": _flag("wait until the task finishes"),
            "--timeout": _opt("SECONDS", "with --wait: give up after this long", type=_seconds),
        },
    ),
    "upload": _Command(
        "connection",
        "upload files, print their access URLs",
        "Upload local files as temporary files and print one access URL per line, usable as inputs.",
        {"files": _opt("FILE", "files to upload", nargs="+"), "--json": _flag("print one JSON object, not URLs")},
    ),
    "batch": _Command(
        "connection",
        "run many jobs from a JSONL file; safe to kill and rerun",
        'Run every job of JOBS.jsonl (one JSON object per line: {"id": "...", "workflow_id": "...", "input": '
        '{...}}) with bounded concurrency; in an input, {"$file": "path"} is a local file, {"$text": "..."} a '
        "string. A journal in DIR records every submission: rerunning the same command after a crash, kill or "
        "Ctrl-C never submits a job twice. Files go to DIR/<job id>/, a summary to DIR/results.jsonl, a page of "
        "every result to DIR/report.html. See docs/cli.md.",
        {
            "jobs": _opt("JOBS.jsonl", "the jobs file ('-' reads stdin)"),
            "-o --output-dir": _opt(
                "DIR|URL", "journal, results and files; or a storage URL for the files", required=True
            ),
            "--state": _opt("DIR", "with a storage URL as -o: the folder of the journal, results and report"),
            "--concurrency": _opt(
                "N", "at most N jobs at once (default 4), fewer while throttled", type=int, default=4
            ),
            "--timeout": _opt("SECONDS", "per job: stop waiting after this long", type=_seconds),
            "--resubmit-unknown": _flag("submit again jobs left 'unknown' by a crash (may pay for them twice)"),
            "--retry-failed": _flag("submit again jobs whose task failed"),
            "--max-failures": _opt("N|P%", "stop submitting once N jobs (or P%%) failed (exit 5)"),
            "--strings-as-text": _flag('send plain strings as text, never as files (files only as {"$file": "path"})'),
            "--json": _flag("print the summary as one JSON object"),
            "-q --quiet": _flag("no progress lines on stderr"),
        },
        "example:\n"
        "  speedpix batch jobs.jsonl -o out/ --concurrency 8\n"
        "  speedpix batch jobs.jsonl -o s3://my-bucket/renders --state state/\n\n"
        + EPILOG.replace(
            "the task failed (batch: at least one job did not succeed)", "at least one job did not succeed"
        ),
    ),
    "report": _Command(
        "",
        "rebuild a batch's report.html from its journal",
        "Write DIR/report.html again from DIR/journal.sqlite: counts, failures first, then a contact sheet "
        "of every job's saved files (one self-contained file, no script, no network).",
        {
            "directory": _opt("DIR", "the output directory of a `speedpix batch` run"),
            "-q --quiet": _flag("do not print the report's path"),
        },
    ),
    "demo": _Command(
        "",
        "try it offline: run a workflow on a local emulator and save the PNG",
        "Start a local emulator in this process, run its demo-txt2img workflow through the public API with "
        "a progress line, save the PNG and print its path. No account or network needed.",
        {
            "-o --output": _opt("PATH", f"where to save (default {DEFAULT_DEMO_OUTPUT})", default=DEFAULT_DEMO_OUTPUT),
            "--prompt": {"default": "a lighthouse on a cliff at dawn", "help": "what to draw"},
            "-q --quiet": _OUTPUT["-q --quiet"],
        },
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="speedpix",
        description="SpeedPix (智作工坊) from the command line: run ComfyUI workflows, follow tasks, "
        "upload files, run crash-safe batches.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"speedpix {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    connection = _Parser(add_help=False)
    group = connection.add_argument_group("connection (default: the SPEEDPIX_* environment variables)")
    _options(group.add_argument, _CONNECTION)
    output = _Parser(add_help=False)
    _options(output.add_argument, _OUTPUT)
    parents = {"output": [output, connection], "connection": [connection], "": []}
    for name, (inherits, summary, description, options, epilog) in _COMMANDS.items():
        command = commands.add_parser(
            name, parents=parents[inherits], help=summary, description=description, epilog=epilog
        )
        _options(command.add_argument, options)
    version = commands.choices["run"].add_mutually_exclusive_group()
    version.add_argument("--alias", dest="alias_id", metavar="ALIAS", help="workflow alias to run (default: main)")
    version.add_argument("--version", dest="version_id", metavar="VERSION_ID", help="workflow version to run instead")
    commands.add_parser("emulator", add_help=False, help="serve a local SpeedPix emulator (needs the 'testing' extra)")
    return parser
