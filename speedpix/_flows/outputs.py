"""Workflow outputs: each URL in a result is a :class:`FileOutput`, each dict with one a :class:`FileNode`.
Downloads send no credentials; names are made safe: nothing is written outside the folder given."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from .._core.config import Config
from .._core.effects import Flow
from .._core.errors import SpeedPixException
from .._core.names import first_safe_name, safe_name, shown_url, url_name
from .._core.retry import CallSettings, RetryPolicy
from .._core.storage import failure
from .._core.twins import sync_and_async
from .._wire.drivers import TRANSFER_FAILURES
from . import preview
from .handle import Handle, storage_handle
from .objectstore import StorageSink, StorageTarget
from .tally import FileSink, SavedFile
from .transfers import download_flow, read_flow, save_flow, sink_save_flow

if TYPE_CHECKING:
    import PIL.Image


class _File:
    """What a :class:`FileOutput` and a :class:`FileNode` share: Jupyter's ``_repr_*_``
    methods (see :mod:`.preview`), ``read()``, ``save()`` and ``to_pil()``."""

    file: FileOutput
    filename: str

    def _repr_png_(self) -> bytes | None:
        return preview.preview(self).png()  # type: ignore[arg-type]

    def _repr_jpeg_(self) -> bytes | None:
        return preview.preview(self).jpeg()  # type: ignore[arg-type]

    def _repr_html_(self) -> str | None:
        return preview.preview(self).html() or None  # type: ignore[arg-type]

    def _read(self) -> tuple[Handle, Flow[bytes]]:
        """The whole file, in memory. For large files prefer :meth:`save` or iteration."""
        handle, settings, timeout = self.file._parts()
        return handle, read_flow(self.file.url, settings, timeout, task_id=self.file.task_id)

    read, async_read = sync_and_async(_read)

    def _save(
        self, path: str | os.PathLike[str] | None = None, *, storage_options: Mapping[str, Any] | None = None
    ) -> tuple[Handle, Flow[Path | str]]:
        """Stream the file to ``path`` (a file, or a folder to save into under :attr:`filename`;
        default: the current folder), atomically, and return where it was written.

        ``path`` may also be an fsspec URL (``s3://bucket/prefix/``, ``oss://…``; needs ``pip
        install 'speedpix[storage]'`` and the scheme's package, e.g. ``s3fs``): the final URL is
        returned as a ``str``. ``storage_options`` go to the file system (e.g. ``{"endpoint_url":
        ...}``); fsspec's own configuration and environment variables apply too."""
        handle, flow = self.file._saved(path, self.filename, storage_options)
        return handle, _path(flow)

    save, async_save = sync_and_async(_save, ":meth:`save`, async (the storage writes run in worker threads).")

    def _to_pil(self) -> tuple[Handle, Flow[PIL.Image.Image]]:
        """The file as a ``PIL.Image`` (needs Pillow: ``pip install 'speedpix[images]'``)."""
        handle, read = self.file._read()
        return handle, preview.pil_flow(self.file, read)

    to_pil, async_to_pil = sync_and_async(_to_pil)


class FileOutput(_File, str):
    """A file produced by a workflow. The string value is its (time-limited) URL."""

    _handle: Handle | None
    #: The task that produced the file (named in download errors), when known.
    task_id: str | None

    def __new__(cls, url: str, *, task_id: str | None = None) -> FileOutput:
        self = super().__new__(cls, url)
        self._handle = None  # set by the client that got it; else the default storage settings
        self.task_id = task_id
        return self

    @property
    def file(self) -> FileOutput:  # type: ignore[override]
        return self

    @property
    def url(self) -> str:
        return str.__str__(self)

    @property
    def filename(self) -> str:  # type: ignore[override]
        """The name to save under: the last part of the URL's decoded path, made a plain
        file name (no folders, no ``..``), else ``"output"``."""
        return first_safe_name(url_name(self.url))

    def __repr__(self) -> str:
        # Never the query: a presigned link's signature stays out of logs, tracebacks and
        # notebooks' text outputs (str(file) is the whole URL).
        url = shown_url(self.url)
        return f"FileOutput({url + '?…' if '?' in self.url else url!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Its download settings, never credentials (see Config.storage_only).
        config = self._handle.config.storage_only() if self._handle is not None else None
        return (_restore, (self.url, self.task_id, config))

    def _parts(self, *, retries: bool = True) -> tuple[Handle, CallSettings, httpx.Timeout]:
        handle = self._handle or storage_handle()
        timeout = handle.config.transfer_timeouts
        retry = handle.config.retry_policy if retries else RetryPolicy(max_retries=0)
        return handle, CallSettings(timeout=timeout, retry=retry), timeout

    def _saved(
        self, path: object, name: str, storage_options: Mapping[str, Any] | None = None
    ) -> tuple[Handle, Flow[SavedFile]]:
        """:meth:`save`, with the size and SHA-256 computed while the bytes streamed."""
        handle, settings, timeout = self._parts()
        flow = save_flow(self.url, path, name, settings, timeout, task_id=self.task_id, storage_options=storage_options)
        return handle, flow

    def _stream(self) -> tuple[Handle, Flow[httpx.Response | None]]:
        # No retries: a consumer may have used earlier chunks.
        handle, settings, timeout = self._parts(retries=False)
        return handle, download_flow(self.url, None, settings, timeout, task_id=self.task_id)

    def iter_bytes(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """Stream the file in chunks (no retries: a consumer may have used earlier chunks)."""
        handle, flow = self._stream()
        response = handle.run_sync(flow)
        assert response is not None
        try:
            yield from response.iter_bytes(chunk_size)
        except TRANSFER_FAILURES as error:
            raise self._failure(error) from None
        finally:
            response.close()

    def __iter__(self) -> Iterator[bytes]:  # type: ignore[override]
        return self.iter_bytes()

    async def aiter_bytes(self, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        handle, flow = self._stream()
        response = await handle.run_async(flow)
        assert response is not None
        try:
            async for chunk in response.aiter_bytes(chunk_size):
                yield chunk
        except TRANSFER_FAILURES as error:
            raise self._failure(error) from None
        finally:
            await response.aclose()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.aiter_bytes()

    def _failure(self, error: Exception) -> SpeedPixException:
        return failure(error, what=f"downloading {shown_url(self.url, path_only=True)}", task_id=self.task_id)


class FileNode(_File, dict[str, Any]):
    """A result node describing a file (a dict with ``url``, ``type``, ``filename``…): a plain
    dict for reading and JSON, with the ``FileOutput`` methods of its ``url``."""

    @property
    def file(self) -> FileOutput:  # type: ignore[override]
        url = self["url"]
        return url if isinstance(url, FileOutput) else FileOutput(str(url))

    @property
    def url(self) -> str:
        return str(self["url"])

    @property
    def filename(self) -> str:  # type: ignore[override]
        """The name to save under: the node's ``filename`` made a plain file name (no
        folders, no ``..``), else the URL's (see :attr:`FileOutput.filename`)."""
        return first_safe_name(self.get("filename"), url_name(self.url))


def _path(flow: Flow[SavedFile]) -> Flow[Path | str]:
    return (yield from flow).path


def wrap_output(value: Any, handle: Handle | None, *, task_id: str | None = None) -> Any:
    """``value`` with each http(s) URL a FileOutput (using ``handle``), each dict with one a FileNode."""
    if isinstance(value, str):
        if not value.startswith(("http://", "https://")):
            return value
        file = FileOutput(value, task_id=task_id)
        file._handle = handle
        return file
    if isinstance(value, dict):
        wrapped = {key: wrap_output(child, handle, task_id=task_id) for key, child in value.items()}
        url = wrapped.get("url")
        return FileNode(wrapped) if isinstance(url, FileOutput) else wrapped
    if isinstance(value, list):
        return [wrap_output(child, handle, task_id=task_id) for child in value]
    return value


#: Object storage, or a local folder and the function naming the file from its first bytes.
NamedTarget = StorageTarget | tuple[Path, Callable[[bytes], str]]


def save_named(file: FileOutput, target: NamedTarget) -> SavedFile:
    """Stream ``file`` to ``target``, under a name chosen from its first bytes (see
    ``_apps.saving.save_outputs``)."""
    if isinstance(target, StorageTarget):
        sink: FileSink = StorageSink(target, task_id=file.task_id)
    else:
        sink = FileSink(*target, task_id=file.task_id)
    handle, settings, timeout = file._parts()
    return handle.run_sync(sink_save_flow(file.url, sink, settings, timeout))


def _restore(url: str, task_id: str | None, config: Config | None) -> FileOutput:
    file = FileOutput(url, task_id=task_id)
    file._handle = storage_handle(config) if config is not None else None
    return file


@dataclass(frozen=True)
class OutputItem:
    """A file in a task's output: where it is (``keys``) and how to fetch it."""

    keys: tuple[str | int, ...]
    file: FileOutput
    node: FileNode | None

    @property
    def label(self) -> str:
        """A readable base name: the output key, then the index in a list (``images-0``)."""
        keys = self.keys[:-1] if self.keys[-1:] == ("url",) else self.keys
        return first_safe_name("-".join(word for key in keys if (word := safe_name(str(key)))))


def iter_output_files(value: Any, keys: tuple[str | int, ...] = ()) -> Iterator[OutputItem]:
    """Every output file of ``value`` (a task's output), in order."""
    if isinstance(value, FileNode):
        yield OutputItem(keys, value.file, value)
    elif isinstance(value, FileOutput):
        yield OutputItem(keys, value, None)
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from iter_output_files(child, (*keys, str(key)))
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from iter_output_files(child, (*keys, index))
