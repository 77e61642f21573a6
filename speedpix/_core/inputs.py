"""Workflow inputs: find the files in them, check everything else is JSON, put URLs back."""

from __future__ import annotations

import base64
import io
import math
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import IO, Any, Final

from .effects import CHUNK_SIZE
from .errors import InvalidInputError
from .images import PNG_NAME, is_numpy_array, is_pil_image, png_bytes
from .logging import logger
from .mime import SNIFF_BYTES, content_type_for, extension_for, guess_from_name, is_media_type
from .validate import check_header_values

#: How deeply an input may nest. Workflow inputs are a few levels deep; the walk recurses
#: per level, and stops here far from the interpreter's limit, where whatever ran
#: meanwhile (a garbage collection's weakref callbacks) would fail.
MAX_INPUT_DEPTH: Final = 128
BASE64_LIMIT: Final = 1024 * 1024  # the official SDKs' cap for data URIs: 1 MB of file bytes
_SPOOL_IN_MEMORY: Final = 8 * 1024 * 1024


@dataclass
class FileSource:
    """A local file to send: readable from its start as often as needed (for retries)."""

    name: str
    size: int
    content_type: str
    path: str | None = None  # a file on disk, opened afresh for each read
    stream: IO[bytes] | None = None  # a caller's seekable binary file, read from `start`
    start: int = 0
    data: bytes | memoryview | None = None  # bytes in memory
    label: str = field(default="input", repr=False)  # where it was found, for messages

    def iter_chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            view = memoryview(self.data)
            for offset in range(0, len(view), CHUNK_SIZE):
                yield bytes(view[offset : offset + CHUNK_SIZE])
        elif self.path is not None:
            with open(self.path, "rb") as file:
                while chunk := file.read(CHUNK_SIZE):
                    yield chunk
        elif self.stream is not None:
            self.stream.seek(self.start)
            left = self.size
            while left > 0 and (chunk := self.stream.read(min(CHUNK_SIZE, left))):
                left -= len(chunk)
                yield chunk

    def read_all(self) -> bytes:
        return b"".join(self.iter_chunks())

    def data_uri(self) -> str:
        encoded = base64.b64encode(self.read_all()).decode("ascii")
        return f"data:{self.content_type};base64,{encoded}"


@dataclass(frozen=True)
class Slot:
    """Where the URL of ``sources[index]`` goes once the file was sent."""

    index: int


@dataclass
class InputPlan:
    value: Any  # the input with each file replaced by a Slot
    sources: list[FileSource]  # what the slots index, once resolved
    # What they index before that: (kind, value, label), kind "path", "text" or "file".
    pending: list[tuple[str, Any, list[str]]] = field(default_factory=list)


def _where(path: list[str]) -> str:
    return "input" + "".join(path)


def _fail(path: list[str], problem: str) -> InvalidInputError:
    return InvalidInputError(f"{_where(path)}: {problem}")


def has_media_name(text: str) -> bool:
    """The part of the rule for plain strings that needs no file system: the name."""
    if not text or len(text) > 4096 or "\x00" in text or text.startswith(("http://", "https://", "data:")):
        return False
    return is_media_type(guess_from_name(text))


def is_media_file_path(text: str) -> bool:
    """The rule for plain strings: an existing regular file whose name says image/audio/video."""
    if not has_media_name(text):
        return False
    try:
        return stat.S_ISREG(os.stat(text).st_mode)
    except (OSError, ValueError):
        return False


def _source_from_path(path: str, label: list[str], name: str | None = None) -> FileSource:
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise _fail(label, f"{path} is a directory; give a file")
        if not stat.S_ISREG(info.st_mode):
            raise _fail(label, f"{path} is not a regular file")
        if info.st_size == 0:
            raise _fail(label, f"{path} is empty (0 bytes)")
        with open(path, "rb") as file:
            head = file.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise _fail(label, f"file not found: {path}") from None
    except OSError as error:
        raise _fail(label, f"cannot read {path}: {error.strerror}") from None
    name = name or os.path.basename(path)
    return FileSource(
        name=name, size=info.st_size, content_type=content_type_for(name, head), path=path, label=_where(label)
    )


def _source_from_stream(stream: Any, label: list[str], name: str | None = None) -> FileSource:
    if getattr(stream, "closed", False):
        raise _fail(label, "the file object is closed; pass it while it is open")
    mode = getattr(stream, "mode", "rb")
    if isinstance(stream, io.TextIOBase) or (isinstance(mode, str) and "b" not in mode):
        raise _fail(label, "the file is open in text mode; open it with open(path, 'rb')")
    stream_name = getattr(stream, "name", None)
    name = name or (os.path.basename(stream_name) if isinstance(stream_name, str) else None) or "file"
    if isinstance(stream, io.BytesIO):
        return _source_from_bytes(stream.getbuffer()[stream.tell() :], label, name)
    try:
        seekable = stream.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    if not seekable:  # spooled, so that an upload can be retried
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 (lives with the source)
        shutil.copyfileobj(stream, spool, CHUNK_SIZE)
        spool.seek(0)
        stream = spool
    start = stream.tell()
    size = stream.seek(0, os.SEEK_END) - start
    stream.seek(start)
    head = stream.read(SNIFF_BYTES)
    stream.seek(start)
    if not isinstance(head, bytes):
        raise _fail(label, "the file object returned text; open it with open(path, 'rb')")
    if size <= 0:
        raise _fail(label, "the file object has no bytes left to read (empty, or already read to its end)")
    return FileSource(
        name=name, size=size, content_type=content_type_for(name, head), stream=stream, start=start, label=_where(label)
    )


def _source_from_bytes(data: bytes | bytearray | memoryview, label: list[str], name: str | None = None) -> FileSource:
    if len(data) == 0:
        raise _fail(label, "the bytes are empty")
    view = data if isinstance(data, bytes) else memoryview(data)
    head = bytes(view[:SNIFF_BYTES])
    content_type = content_type_for(name, head)
    if name is None:
        name = "file" + extension_for(content_type)
    return FileSource(name=name, size=len(data), content_type=content_type, data=view, label=_where(label))


def file_source(
    value: Any, *, label: list[str] | None = None, name: str | None = None, content_type: str | None = None
) -> FileSource:
    """A :class:`FileSource` for a path, binary file object, bytes, PIL image or numpy array (blocking I/O)."""
    label = label if label is not None else []
    if isinstance(value, str | PurePath):
        source = _source_from_path(os.fspath(value), label, name)
    elif isinstance(value, bytes | bytearray | memoryview):
        source = _source_from_bytes(value, label, name)
    elif hasattr(value, "read"):
        source = _source_from_stream(value, label, name)
    elif is_pil_image(value) or is_numpy_array(value):
        source = _source_from_bytes(png_bytes(value, _where(label)), label, name or PNG_NAME)
    else:
        raise _fail(
            label,
            "expected a file path, pathlib.Path, binary file object, bytes, PIL image or uint8 numpy array, "
            f"got {type(value).__name__}",
        )
    if content_type is not None:
        if not isinstance(content_type, str) or "/" not in content_type:
            raise InvalidInputError(f"content_type must be a MIME type like 'image/png', got {content_type!r}")
        check_header_values(content_type=content_type)
        source.content_type = content_type
    return source


def walk_inputs(value: Any, *, detect_file_paths: bool = True) -> InputPlan:
    """Validate ``value`` as JSON and leave a :class:`Slot` wherever a file may be; the same
    object or string gets one slot. Pure: :func:`resolve_files` reads the files."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"input must be a dict of the workflow's inputs, got {type(value).__name__}")
    walk = _Walk(detect_file_paths)
    return InputPlan(value=walk.walk(value, []), sources=[], pending=walk.pending)


class _Walk:
    """One walk of an input (a class: recursive closures would leave reference cycles)."""

    def __init__(self, detect_file_paths: bool) -> None:
        self.detect_file_paths = detect_file_paths
        self.pending: list[tuple[str, Any, list[str]]] = []
        self.seen: dict[tuple[str, Any], int] = {}
        self.active: set[int] = set()  # containers on the current path, to refuse cycles

    def slot(self, kind: str, item: Any, path: list[str]) -> Slot:
        key = (kind, item if kind == "text" else id(item))
        if key not in self.seen:
            self.seen[key] = len(self.pending)
            self.pending.append((kind, item, path))
        return Slot(self.seen[key])

    def walk(self, item: Any, path: list[str]) -> Any:
        if isinstance(item, float) and not math.isfinite(item):
            raise _fail(path, f"{item} is not allowed: JSON has no NaN or infinity")
        if item is None or isinstance(item, bool | int | float):
            return item
        if type(item) is str:
            return self.slot("text", item, path) if self.detect_file_paths and has_media_name(item) else item
        if isinstance(item, str):  # FileOutput, File-like str subclasses: their URL
            return str(item)
        if isinstance(item, PurePath):
            return self.slot("path", item, path)
        if (
            isinstance(item, bytes | bytearray | memoryview | io.IOBase)
            or (hasattr(item, "read") and hasattr(item, "seek"))
            or is_pil_image(item)
            or is_numpy_array(item)
        ):
            return self.slot("file", item, path)
        if isinstance(access_url := getattr(item, "access_url", None), str):  # an uploaded speedpix File
            return access_url
        if isinstance(item, Mapping | list | tuple):
            if len(path) >= MAX_INPUT_DEPTH:
                raise InvalidInputError(f"input is nested too deeply: more than {MAX_INPUT_DEPTH} levels")
            if id(item) in self.active:
                raise _fail(path, "the input contains itself (a cycle)")
            self.active.add(id(item))
            try:
                if isinstance(item, Mapping):
                    result = {}
                    for key, child in item.items():
                        if not isinstance(key, str):
                            raise _fail(path, f"keys must be strings, got {key!r} ({type(key).__name__})")
                        result[key] = self.walk(child, [*path, f"[{key!r}]"])
                    return result
                return [self.walk(child, [*path, f"[{index}]"]) for index, child in enumerate(item)]
            finally:
                self.active.discard(id(item))
        if isinstance(item, set | frozenset):
            raise _fail(path, "a set is not JSON; use a list")
        raise _fail(
            path,
            f"{type(item).__name__} is not JSON-serialisable; use str, int, float, bool, None, "
            "list, dict, or a file (Path, binary file, bytes, PIL image, uint8 numpy array)",
        )


def resolve_files(plan: InputPlan) -> InputPlan:
    """Read and check the files behind a walked input's slots (blocking I/O): one source per
    distinct file; a string that is not an existing regular file goes back to being text."""
    sources: list[FileSource] = []
    by_file: dict[str, int] = {}
    targets: list[Slot | str] = []
    for kind, value, label in plan.pending:
        if kind == "file":
            targets.append(Slot(len(sources)))
            sources.append(file_source(value, label=label))
        elif kind == "text" and not is_media_file_path(value):
            # Likely a mistyped path, which would cost a task: say so, but send it as given.
            logger.warning(
                "%s: %r looks like a media file name but no such file exists (relative paths are read from "
                "%s); it is sent as text. For a local file, fix the path or pass pathlib.Path(...), which "
                "must exist; to send such strings as text without this warning, use "
                "Client(detect_file_paths=False).",
                _where(label),
                value,
                os.getcwd(),
            )
            targets.append(value)
        else:
            path = os.fspath(value)
            key = os.path.realpath(path)
            if key not in by_file:
                by_file[key] = len(sources)
                sources.append(_source_from_path(path, label))
            targets.append(Slot(by_file[key]))
    return InputPlan(value=_map_slots(plan.value, lambda slot: targets[slot.index]), sources=sources)


def _map_slots(value: Any, replace: Callable[[Slot], Any]) -> Any:
    if isinstance(value, Slot):
        return replace(value)
    if isinstance(value, dict):
        return {key: _map_slots(child, replace) for key, child in value.items()}
    if isinstance(value, list):
        return [_map_slots(child, replace) for child in value]
    return value


def fill_slots(value: Any, urls: list[str]) -> Any:
    return _map_slots(value, lambda slot: urls[slot.index])


def check_base64_sizes(sources: list[FileSource]) -> None:
    for source in sources:
        if source.size > BASE64_LIMIT:
            raise InvalidInputError(
                f"{source.label}: {source.name} is {source.size} bytes; file_encoding_strategy='base64' "
                f"takes files up to {BASE64_LIMIT} bytes (1 MB). Use the default 'url' strategy for larger files."
            )


def check_strategy(strategy: object) -> str:
    if strategy not in ("url", "base64"):
        raise InvalidInputError(f"file_encoding_strategy must be 'url' or 'base64', got {strategy!r}")
    return str(strategy)
