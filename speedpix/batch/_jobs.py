"""The jobs file: every line validated before anything is submitted; a job's input as ``create()`` takes it."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO, cast

from speedpix_api.api.predictions import ComfyPromptRequestOptions

from .._core import jsontext
from .._core.errors import InvalidInputError
from .._core.inputs import has_media_name, is_media_file_path
from .._core.validate import identifier, request_options

# The batch's own files in its directory; no job may be named like them (each job's
# files go to DIR/<job id>/).
JOURNAL_NAME: Final = "journal.sqlite"
RESULTS_NAME: Final = "results.jsonl"
LOCK_NAME: Final = ".batch.lock"
REPORT_NAME: Final = "report.html"

# Besides these, a line may carry any optional field of the spec's comfy_prompt request
# (ComfyPromptRequestOptions: alias_id, version_id, randomise_seeds, ...).
_JOB_KEYS: Final = frozenset({"id", "workflow_id", "input", "resource_config_id"})
_RESERVED_IDS: Final = frozenset(
    {JOURNAL_NAME, f"{JOURNAL_NAME}-wal", f"{JOURNAL_NAME}-shm", RESULTS_NAME, REPORT_NAME}
)
# A character no file system takes, a leading dot, leading or trailing whitespace.
_BAD_ID: Final = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]|^\.|^\s|\s\Z')
# In a job's input, {"$file": path} is a local file and {"$text": string} a string sent
# as it is: single-key objects whose "$" keys no workflow input uses.
FILE_KEY: Final = "$file"
TEXT_KEY: Final = "$text"


class BatchInputError(InvalidInputError):
    """The jobs file (or the output directory) cannot be used; nothing was submitted."""


@dataclass(frozen=True)
class Job:
    """One line of the jobs file."""

    id: str
    workflow_id: str
    input: dict[str, Any]
    options: ComfyPromptRequestOptions = field(default_factory=lambda: ComfyPromptRequestOptions())
    resource_config_id: str | None = None
    line: int = 0

    def spec(self) -> str:
        """The job's content, canonical: a rerun compares it with the journal's copy."""
        data: dict[str, Any] = {"workflow_id": self.workflow_id, "input": self.input, **self.options}
        if self.resource_config_id is not None:
            data["resource_config_id"] = self.resource_config_id
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class _Text(str):
    """A ``{"$text": ...}`` string: the client sends a ``str`` subclass as text, never as a file."""


def _marker(value: dict[str, Any]) -> str | None:
    """FILE_KEY or TEXT_KEY when ``value`` is one of the two escapes, else None."""
    keys = {FILE_KEY, TEXT_KEY} & set(value)
    if not keys:
        return None
    if len(value) != 1:
        raise ValueError(f"{{{next(iter(keys))!r}: ...}} takes no other key, got {sorted(value)}")
    key = next(iter(keys))
    if not isinstance(value[key], str) or not value[key]:
        raise ValueError(f'{{"{key}": ...}} needs a non-empty string, got {value[key]!r}')
    return key


def _file_problems(value: Any, where: str, *, detect_file_paths: bool) -> Iterator[str]:
    """What is wrong with the files an input names (the file system is read)."""
    if isinstance(value, list):
        value = dict(enumerate(value))  # named [0], [1]...
    if isinstance(value, dict):
        try:
            key = _marker(value)
        except ValueError as error:
            yield f"{where}: {error}"
            return
        if key == FILE_KEY:
            path = Path(value[FILE_KEY]).expanduser()
            if not path.is_file():
                problem = "is not a regular file" if path.exists() else "no such file"
                yield f"{where}: {problem}: {value[FILE_KEY]} (relative paths are read from {Path.cwd()})"
            elif path.stat().st_size == 0:
                yield f"{where}: {value[FILE_KEY]} is empty (0 bytes)"
        elif key is None:
            for name, child in value.items():
                yield from _file_problems(child, f"{where}[{name!r}]", detect_file_paths=detect_file_paths)
    elif isinstance(value, str) and detect_file_paths and has_media_name(value) and not is_media_file_path(value):
        quoted = json.dumps(value, ensure_ascii=False)
        yield (
            f"{where}: {quoted} looks like a media file name but no such file exists (relative paths are read "
            f'from {Path.cwd()}). For a local file, fix the path or write {{"{FILE_KEY}": {quoted}}}; to send '
            f'the string as it is, write {{"{TEXT_KEY}": {quoted}}} (or use --strings-as-text)'
        )


def map_input(
    inputs: dict[str, Any], *, file: Callable[[str], Any], text: Callable[[str], Any], leaf: Callable[[Any], Any]
) -> dict[str, Any]:
    """A checked input with each ``{"$file": p}`` as ``file(p)``, each ``{"$text": s}`` as
    ``text(s)``, every other value that is not a dict or list as ``leaf(value)``."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            key = _marker(value)
            if key is not None:
                return (file if key == FILE_KEY else text)(value[key])
            return {name: walk(child) for name, child in value.items()}
        if isinstance(value, list):
            return [walk(child) for child in value]
        return leaf(value)

    return cast(dict[str, Any], walk(inputs))


def job_input(job: Job) -> dict[str, Any]:
    """The input to submit: ``{"$file": p}`` as ``Path(p)``, ``{"$text": s}`` as a string sent as text."""
    return map_input(job.input, file=lambda path: Path(path).expanduser(), text=_Text, leaf=lambda value: value)


def _check_job(data: Any, line: int, *, detect_file_paths: bool = True) -> Job:
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    allowed = _JOB_KEYS | ComfyPromptRequestOptions.__optional_keys__
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))})")
    job_id = cast(str, identifier('"id"', data.get("id")))
    if _BAD_ID.search(job_id) or len(job_id) > 128 or job_id in _RESERVED_IDS:
        raise ValueError(
            f'"id" {job_id!r} cannot name a directory: use at most 128 characters, no leading dot or '
            'spaces, none of / \\ : * ? " < > |'
        )
    workflow_id = cast(str, identifier('"workflow_id"', data.get("workflow_id")))
    inputs = data.get("input", {})
    if not isinstance(inputs, dict):
        raise ValueError(f'"input" must be a JSON object, got {type(inputs).__name__}')
    problems = list(_file_problems(inputs, "input", detect_file_paths=detect_file_paths))
    if problems:
        raise ValueError("; ".join(problems))
    resource_config_id = identifier('"resource_config_id"', data.get("resource_config_id"), optional=True)
    options = cast(
        ComfyPromptRequestOptions,
        {key: value for key, value in data.items() if key in ComfyPromptRequestOptions.__optional_keys__},
    )
    request_options(options)  # the checks create() makes; its InvalidInputError is a ValueError
    return Job(job_id, workflow_id, inputs, options, resource_config_id, line)


def _lines(source: str | os.PathLike[str] | TextIO | Iterable[Any]) -> Iterator[tuple[int, Any, str]]:
    """(line number, parsed object or raw line, where) for every non-blank entry."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            with path.open(encoding="utf-8") as stream:
                for number, text in enumerate(stream, 1):
                    if text.strip():
                        yield number, text, str(path)
        except FileNotFoundError:
            raise BatchInputError(f"jobs file not found: {path}") from None
        except UnicodeDecodeError as error:
            raise BatchInputError(f"{path}: not UTF-8 text ({error.reason})") from None
        except IsADirectoryError:
            raise BatchInputError(f"{path} is a directory, not a jobs file") from None
        return
    where = getattr(source, "name", None) if isinstance(source, io.IOBase) else None
    for number, item in enumerate(source, 1):
        if isinstance(item, str) and not item.strip():
            continue
        yield number, item, str(where or "jobs")


def load_jobs(source: str | os.PathLike[str] | TextIO | Iterable[Any], *, detect_file_paths: bool = True) -> list[Job]:
    """Read and validate every job first; :class:`BatchInputError` lists what is wrong,
    by line number. ``source`` is a path, an open text file, or an iterable of JSON
    lines or dicts. Files named in inputs must exist (docs/cli.md);
    ``detect_file_paths=False``: plain strings are text, never checked as files."""
    jobs: list[Job] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, item, where in _lines(source):
        try:
            data = jsontext.loads(item) if isinstance(item, str | bytes) else item
        except ValueError as error:  # a JSONDecodeError's own message counts lines too: the column only
            detail = f"{error.msg} at column {error.colno}" if isinstance(error, json.JSONDecodeError) else error
            problems.append(f"{where} line {number}: not valid JSON ({detail})")
            continue
        # An id is taken by the first line that names it, valid or not.
        raw_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(raw_id, str) and seen.setdefault(raw_id, number) != number:
            problems.append(f"{where} line {number}: duplicate id {raw_id!r} (first on line {seen[raw_id]})")
            continue
        try:
            jobs.append(_check_job(data, number, detect_file_paths=detect_file_paths))
        except ValueError as error:
            problems.append(f"{where} line {number}: {error}")
    if problems:
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise BatchInputError(f"invalid jobs ({len(problems)}):\n" + "\n".join(problems[:20]) + more)
    if not jobs:
        raise BatchInputError("the jobs file has no jobs")
    return jobs
