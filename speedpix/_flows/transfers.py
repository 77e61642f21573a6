"""Storage transfers as flows: uploads (sign, then PUT) and downloads (GET into a sink:
memory, a file saved atomically, or none for chunk iteration)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from speedpix_api import Client as GeneratedClient
from speedpix_api.models import UploadSignRequest
from speedpix_api.types import Unset

from .._core.effects import Blocking, Effect, Flow, Get, Put, Sleep
from .._core.errors import InvalidInputError, SpeedPixException
from .._core.inputs import FileSource, file_source
from .._core.names import shown_url
from .._core.replies import present, value_of
from .._core.retry import CallSettings, retry_delay
from .._core.storage import Route
from .calls import UPLOAD_SIGN, api_call
from .handle import Handle
from .objectstore import StorageSink, is_storage_url, storage_target
from .tally import FileSink, SavedFile


@dataclass(frozen=True)
class File:
    """An uploaded file. ``str(file)`` and ``file.url`` are its ``access_url``, ready for inputs."""

    access_url: str
    name: str
    content_type: str
    size: int
    object_key: str | None = None
    path: str | None = None
    expire_time: int | str | None = None

    @property
    def url(self) -> str:
        return self.access_url

    def __str__(self) -> str:
        return self.access_url


class MemorySink(io.BytesIO):
    blocking = False

    def open(self) -> None:
        self.seek(0)
        self.truncate()

    def commit(self) -> None:
        pass

    def discard(self) -> None:
        pass


def save_target(path: object, name: str) -> Path:
    """``path``, or ``path/name`` for a folder (existing, or ending in a separator); refusing, before
    any request, a folder or a path under a file."""
    if path is None:
        return Path(name)
    if not isinstance(path, str | os.PathLike):
        raise InvalidInputError(f"save() takes a file or folder path, got {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise InvalidInputError("save() takes a str or os.PathLike[str] path, not bytes")
    if "\x00" in text:
        raise InvalidInputError(f"cannot save to {text!r}: a path cannot contain a NUL character")
    target = Path(text)
    try:
        if text.endswith(("/", os.sep)) or target.is_dir():
            target = target / name
        if target.is_dir():
            raise InvalidInputError(
                f"cannot save to {target}: it is a folder. Give a file name, or remove or rename that folder."
            )
        parent = next((parent for parent in target.parents if parent.exists()), None)
        if parent is not None and not parent.is_dir():
            raise InvalidInputError(f"cannot save to {target}: {parent} is a file, not a folder.")
    except InvalidInputError:
        raise
    except (OSError, ValueError) as error:  # e.g. a folder we may not read
        raise InvalidInputError(f"cannot save to {text!r}: {error}") from None
    return target


def download_flow(
    url: str, sink: Any, settings: CallSettings, timeout: httpx.Timeout, *, task_id: str | None = None
) -> Flow[httpx.Response | None]:
    """Stream ``url`` into ``sink``; with none, return the response open (for the caller to stream)."""

    def get(current: str, attempt: int) -> Get:
        return Get(current, sink, settings.attempt_timeout(timeout), attempt, settings.deadline)

    what = f"downloading {shown_url(url, path_only=True)}"
    response: httpx.Response | None = yield from transfer_flow("GET", url, get, settings, what=what, task_id=task_id)
    return response


def read_flow(url: str, settings: CallSettings, timeout: httpx.Timeout, *, task_id: str | None = None) -> Flow[bytes]:
    sink = MemorySink()
    yield from download_flow(url, sink, settings, timeout, task_id=task_id)
    return sink.getvalue()


def save_flow(
    url: str,
    path: object,
    name: str,
    settings: CallSettings,
    timeout: httpx.Timeout,
    *,
    task_id: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Flow[SavedFile]:
    """``save(path)``: to a local file, or to an fsspec URL."""
    sink: FileSink
    if is_storage_url(path):
        sink = yield Blocking(lambda: StorageSink(storage_target(path, name, storage_options), task_id=task_id))
    elif storage_options is not None:
        raise InvalidInputError("storage_options apply to a storage URL (s3://…), not to a local path")
    else:
        target: Path = yield Blocking(lambda: save_target(path, name))
        sink = FileSink(target.parent, target.name, task_id=task_id)
    return (yield from sink_save_flow(url, sink, settings, timeout))


def sink_save_flow(url: str, sink: FileSink, settings: CallSettings, timeout: httpx.Timeout) -> Flow[SavedFile]:
    yield from download_flow(url, sink, settings, timeout, task_id=sink.task_id)
    assert sink.saved is not None
    return sink.saved


def upload_flow(
    api: GeneratedClient, source: FileSource, settings: CallSettings, transfer_timeout: httpx.Timeout
) -> Flow[File]:
    """Ask for a presigned URL, then stream the file to it (from its start on each retry)."""
    request = UploadSignRequest(original_filename=source.name, content_type=source.content_type, size=source.size)
    reply = yield from api_call(UPLOAD_SIGN(client=api, body=request), settings)
    data = present(reply.envelope.data)
    # The signed Content-Type, and a length: presigned storage URLs refuse chunked uploads.
    headers = {"Content-Type": source.content_type, "Content-Length": str(source.size)}

    def put(url: str, attempt: int) -> Put:
        return Put(url, source, headers, settings.attempt_timeout(transfer_timeout), attempt, settings.deadline)

    yield from transfer_flow("PUT", str(data.upload_url), put, settings, what=f"uploading {source.name}")
    return File(
        str(data.access_url),
        source.name,
        source.content_type,
        source.size,
        object_key=value_of(data.object_key),
        path=value_of(data.path),
        expire_time=None if isinstance(data.expire_time, Unset) else data.expire_time,
    )


def create_file_flow(
    handle: Handle, file: Any, timeout: float | None, filename: str | None, content_type: str | None
) -> Flow[File]:
    """``files.create()``: read what ``file`` is (off the event loop), then upload it."""
    settings = handle.settings(timeout)
    source = yield Blocking(lambda: file_source(file, label=[], name=filename, content_type=content_type))
    return (yield from upload_flow(handle.api, source, settings, handle.config.transfer_timeouts))


def transfer_flow(
    method: str,
    url: str,
    send: Callable[[str, int], Effect],
    settings: CallSettings,
    *,
    what: str,
    task_id: str | None = None,
) -> Flow[Any]:
    """Send ``send(url, attempt)``, following redirects, retrying from the original URL (a redirect's
    target may be short-lived); the last response (closed, unless the GET had no sink)."""
    attempt = 0
    while True:
        attempt += 1
        route = Route(method, url, what, task_id)
        refusal = route.refusal()
        if refusal is not None:
            raise refusal
        step: bool | SpeedPixException = False
        while step is False:
            outcome = yield send(route.url, attempt)
            step = route.step(outcome)
        if step is True:
            return outcome.response
        assert isinstance(step, SpeedPixException)
        delay = retry_delay(step, attempt=attempt, idempotent=True, policy=settings.retry)
        if delay is None or not settings.allows_sleep(delay):
            raise step
        yield Sleep(delay)
