"""The command line's grammar: the parser of every command, and ``-i``/``--option`` values."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from speedpix_api.api.predictions import ComfyPromptRequestOptions

from .._version import __version__
from ._output import EXIT_CODES, EXIT_USAGE, UsageError

__all__ = ["DEFAULT_DEMO_OUTPUT", "build_parser", "parse_input", "parse_options"]

EPILOG = (
    "exit codes:\n" + "".join(f"  {code:<3}  {text}\n" for code, text in EXIT_CODES.items()) + "\nenvironment:\n"
    "  SPEEDPIX_APP_KEY, SPEEDPIX_APP_SECRET  credentials (the --app-key/--app-secret flags override them)\n"
    "  SPEEDPIX_ENDPOINT                      API endpoint (default https://openai.edu-aliyun.com)\n"
    "\nTry it offline, no account needed:  speedpix demo"
)

DEFAULT_DEMO_OUTPUT = "speedpix-demo.png"
DEMO_PROMPT = "a lighthouse on a cliff at dawn"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


class _Parser(argparse.ArgumentParser):
    """Every command's parser: a usage error exits with EXIT_USAGE; the help ends with
    the exit codes and the environment (``EPILOG``) unless told otherwise."""

    def __init__(self, *, epilog: str | None = EPILOG, **kwargs: Any) -> None:
        super().__init__(epilog=epilog, formatter_class=_Formatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _json_or_text(value: str) -> Any:
    """A value of ``-i`` or ``--option``: parsed when it is valid JSON, else the string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


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
        else:
            result[key] = _json_or_text(value)
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
        result[key] = _json_or_text(value)
    return cast(ComfyPromptRequestOptions, result)


_Number = TypeVar("_Number", int, float)


def _positive(convert: Callable[[str], _Number], expected: str, positive: str) -> Callable[[str], _Number]:
    """An argparse ``type``: ``convert(text)``, refused unless above 0 and finite."""

    def parse(text: str) -> _Number:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not 0 < value < math.inf:  # also refuses nan
            raise argparse.ArgumentTypeError(f"expected {positive}, got {text!r}")
        return value

    return parse


_seconds = _positive(float, "a number of seconds", "a positive number of seconds")
_count = _positive(int, "a whole number", "a number >= 1")


def _failure_limit(text: str) -> int | str:
    """``--max-failures``: a count (``3``) or a percentage (``10%``)."""
    if text.strip().endswith("%"):
        try:
            percent = float(text.strip()[:-1])
        except ValueError:
            percent = math.nan
        if not 0 < percent <= 100:
            raise argparse.ArgumentTypeError(f"expected a percentage from 0 (excluded) to 100%, got {text!r}")
        return text.strip()
    return _count(text)


def build_parser() -> argparse.ArgumentParser:
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
    output.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR",
        help="save every output file into DIR (a folder, or a storage URL such as s3://bucket/prefix/, "
        "with speedpix[storage]) and print the paths",
    )
    output.add_argument(
        "--json", action="store_true", help="print exactly one JSON object on stdout (and nothing else there)"
    )
    output.add_argument("-q", "--quiet", action="store_true", help="no progress display on stderr")

    parser = _Parser(
        prog="speedpix",
        description="SpeedPix (智作工坊) from the command line: run ComfyUI workflows, follow tasks, "
        "upload files, run crash-safe batches.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"speedpix {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run",
        parents=[output, connection],
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
        "--timeout", type=_seconds, metavar="SECONDS", help="give up waiting after this long (exit code 4)"
    )
    run.add_argument(
        "--base64",
        action="store_true",
        help="send file inputs inline as data URIs (files up to 1 MB) instead of uploading",
    )

    get = commands.add_parser(
        "get",
        parents=[output, connection],
        help="show a task by id; --wait follows it to the end",
        description="Show a task's status (and its output once finished). With --wait, follow it until it "
        "finishes: this resumes a `speedpix run` that was interrupted or timed out.",
    )
    get.add_argument("task_id", metavar="TASK_ID", help="the task id printed by `speedpix run`")
    get.add_argument("--wait", action="store_true", help="wait until the task finishes")
    get.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS", help="with --wait: give up after this long (exit code 4)"
    )

    upload = commands.add_parser(
        "upload",
        parents=[connection],
        help="upload files, print their access URLs",
        description="Upload local files as temporary files and print one access URL per line, "
        "usable as workflow inputs.",
    )
    upload.add_argument("files", nargs="+", metavar="FILE", help="files to upload")
    upload.add_argument("--json", action="store_true", help="print one JSON object instead of URLs")

    batch = commands.add_parser(
        "batch",
        parents=[connection],
        help="run many jobs from a JSONL file; safe to kill and rerun",
        description="Run every job of JOBS.jsonl (one JSON object per line: "
        '{"id": "...", "workflow_id": "...", "input": {...}}, optionally alias_id, version_id, '
        "resource_config_id) with bounded concurrency. In an input, "
        '{"$file": "path"} is a local file (uploaded) and {"$text": "..."} a string sent as it is; a plain '
        "string naming a missing media file (photoz/17.jpg) is refused."
        " A journal in DIR records every submission before "
        "and after it is made: rerunning the same command after a crash, kill or Ctrl-C never submits a "
        "job twice (submitted tasks are followed by id) and keeps every finished result. Files are saved "
        "under DIR/<job id>/, a summary in DIR/results.jsonl, a page of every result in DIR/report.html "
        "(self-contained, offline; `speedpix report DIR` rebuilds it). With -o s3://bucket/prefix (any fsspec "
        "URL) the files are streamed to URL/<job id>/ and the journal, results and report go to --state DIR.",
        epilog="example:\n"
        '  echo \'{"id": "fox", "workflow_id": "my-workflow", "input": {"prompt": "a fox"}}\' > jobs.jsonl\n'
        "  speedpix batch jobs.jsonl -o out/ --concurrency 8\n"
        "  speedpix batch jobs.jsonl -o s3://my-bucket/renders --state state/\n\n"
        "a job left 'submitting' by a crash (the task may or may not exist) is reported as 'unknown' and\n"
        "not submitted again unless --resubmit-unknown is given (which risks paying for it twice).\n\n"
        + EPILOG.replace(
            "the task failed (batch: at least one job did not succeed)", "at least one job did not succeed"
        ),
    )
    batch.add_argument("jobs", metavar="JOBS.jsonl", help="the jobs file ('-' reads stdin)")
    batch.add_argument(
        "-o",
        "--output-dir",
        metavar="DIR|URL",
        required=True,
        help="journal, results and files go here; or a storage URL (s3://bucket/prefix, with speedpix[storage]) "
        "the files are streamed to, with --state",
    )
    batch.add_argument(
        "--state",
        metavar="DIR",
        help="with a storage URL as -o: the local folder for the journal, results.jsonl and report.html "
        "(`speedpix report DIR` rebuilds the report)",
    )
    batch.add_argument(
        "--concurrency",
        type=_count,
        default=4,
        metavar="N",
        help="at most N jobs at once (default 4); lowered while the service throttles, raised again as it allows",
    )
    batch.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="per job: stop waiting after this long")
    batch.add_argument(
        "--resubmit-unknown", action="store_true", help="submit again jobs whose earlier submission is in doubt"
    )
    batch.add_argument("--retry-failed", action="store_true", help="submit again jobs whose task failed")
    batch.add_argument(
        "--max-failures",
        type=_failure_limit,
        metavar="N|P%",
        help="stop submitting once N jobs failed in this run, or P%% of the finished ones (checked from "
        "max(10, 100/P) finished jobs); submitted tasks are still followed; exit code 5; rerun to resume",
    )
    batch.add_argument(
        "--strings-as-text",
        action="store_true",
        help='send plain strings as text, never as files (files then only as {"$file": "path"})',
    )
    batch.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    report = commands.add_parser(
        "report",
        help="rebuild a batch's report.html from its journal",
        description="Write DIR/report.html again from DIR/journal.sqlite: counts, failures first, then a "
        "contact sheet of every job's saved files. One self-contained file (no script, no network); "
        "`speedpix batch` writes it at the end of every run.",
    )
    report.add_argument("directory", metavar="DIR", help="the output directory of a `speedpix batch` run")
    report.add_argument("-q", "--quiet", action="store_true", help="do not print the report's path")

    commands.add_parser(
        "emulator",
        add_help=False,
        help="serve a local SpeedPix emulator (see `speedpix emulator --help`)",
        description="Serve the local emulator (needs the 'testing' extra).",
    )

    demo = commands.add_parser(
        "demo",
        help="try it offline: run a workflow on a local emulator and save the PNG",
        description="Start a local emulator in this process, run its demo-txt2img workflow through the "
        "public API with a progress line, save the PNG and print its path. No account, no network, "
        "no environment variables needed.",
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
