"""Workflow outputs: every URL in a result becomes a :class:`FileOutput`.

A ``FileOutput`` *is* the URL string (so printing, comparing and ``json.dumps`` of an
output keep working) and can also ``read()`` or ``save()`` the file — streamed, with
constant memory, written atomically. A result node that is a dict with a ``url`` is a
:class:`FileNode`, a dict that can ``save()`` too, so both README idioms work:
``output['images']['url'].save(p)`` and ``output['images'].save(p)``.

Output URLs are presigned storage links: they are fetched without gateway credentials,
following same-scheme redirects but never from https to http. The name a file is saved
under inside a folder comes from outside (the URL, the node's ``filename``), so it is
reduced to one plain file name (:mod:`speedpix._core.names`): nothing is written outside the
folder given.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ._core.errors import FileTransferError, InvalidInputError, SpeedPixException
from ._core.names import first_safe_name, url_name
from ._core.retry import CallSettings, RetryPolicy
from ._flows.transfers import Route, delivers, transfer_flow
from ._wire.drivers import (
    TRANSFER_FAILURES,
    Blocking,
    Flow,
    Get,
    TransferOutcome,
    async_body_head,
    run_async,
    run_sync,
    sync_body_head,
)

if TYPE_CHECKING:
    import PIL.Image

    from ._wire.connections import Transport

__all__ = ["FileNode", "FileOutput"]


class _MemorySink:
    blocking = False

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def open(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, chunk: bytes) -> None:
        self.buffer.write(chunk)

    def commit(self) -> None:
        pass

    def discard(self) -> None:
        self.buffer = io.BytesIO()


_UMASK = os.umask(0o022)  # read once, at import: os.umask can only be read by setting it
os.umask(_UMASK)


class _AtomicFileSink:
    """Writes to a temporary file beside the target and renames it into place on success,
    so a failed or interrupted download never leaves a truncated file under the real name
    (nor its temporary file: it is removed on every failure). A file system failure is a
    FileTransferError naming the target."""

    blocking = True

    def __init__(self, target: Path, *, task_id: str | None = None) -> None:
        self.target = target
        self.task_id = task_id
        self._file: Any = None

    def open(self) -> None:
        self.discard()
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._file = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in commit/discard)
                dir=self.target.parent, prefix=f".{self.target.name}.", suffix=".part", delete=False
            )
        except OSError as error:
            raise self._failed(error) from None

    def write(self, chunk: bytes) -> None:
        try:
            self._file.write(chunk)
        except OSError as error:
            self.discard()
            raise self._failed(error) from None

    def commit(self) -> None:
        try:
            self._file.close()
            # NamedTemporaryFile makes 0600 files; a saved output gets the usual 0666 & ~umask.
            os.chmod(self._file.name, 0o666 & ~_UMASK)
            os.replace(self._file.name, self.target)
        except OSError as error:
            self.discard()
            raise self._failed(error) from None
        self._file = None

    def discard(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):  # closing flushes, which fails on a full disk
                file.close()
            with contextlib.suppress(OSError):
                Path(file.name).unlink(missing_ok=True)

    def _failed(self, error: OSError) -> FileTransferError:
        reason = error.strerror or str(error) or type(error).__name__
        return FileTransferError(
            f"saving to {self.target} failed: {reason}. Check that its folder is writable and has "
            "free space, or save somewhere else.",
            task_id=self.task_id,
        )


def save_target(path: object, name: str) -> Path:
    """Where ``save(path)`` writes: ``path`` itself, or ``path/name`` when ``path`` is a
    folder (an existing one, or one written with a trailing separator). ``name`` is safe
    (see :mod:`speedpix._core.names`). Refuses, before any request, a target that could not
    be written: a folder, or a path under a file."""
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
    if text.endswith(("/", os.sep)) or _probe(text, target.is_dir):
        target = target / name
    if _probe(text, target.is_dir):
        raise InvalidInputError(
            f"cannot save to {target}: it is a folder. Give a file name, or remove or rename that folder."
        )
    for parent in target.parents:
        if _probe(text, parent.exists):
            if not _probe(text, parent.is_dir):
                raise InvalidInputError(f"cannot save to {target}: {parent} is a file, not a folder.")
            break
    return target


def _probe(text: str, check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (OSError, ValueError) as error:  # e.g. a NUL in the path, a folder we may not read
        raise InvalidInputError(f"cannot save to {text!r}: {error}") from None


def download_flow(
    url: str, sink: Any, settings: CallSettings, timeout: httpx.Timeout, *, task_id: str | None = None
) -> Flow[None]:
    def get(current: str, attempt: int) -> Get:
        return Get(current, sink, settings.attempt_timeout(timeout), attempt)

    yield from transfer_flow("GET", url, get, settings, what=f"downloading {_path_of(url)}", task_id=task_id)


def save_flow(
    url: str,
    path: object,
    name: str,
    settings: CallSettings,
    timeout: httpx.Timeout,
    *,
    task_id: str | None = None,
) -> Flow[Path]:
    target: Path = yield Blocking(lambda: save_target(path, name))
    yield from download_flow(url, _AtomicFileSink(target, task_id=task_id), settings, timeout, task_id=task_id)
    return target


def _path_of(url: str) -> str:
    """The URL's path, for messages: never its query (presigned URLs sign there)."""
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "<an invalid URL>"


def _default_transport() -> Transport:
    """Storage-only transport for a FileOutput made outside a client (no credentials)."""
    global _DEFAULT_TRANSPORT
    if _DEFAULT_TRANSPORT is None:
        from ._version import USER_AGENT
        from ._wire.connections import DEFAULT_TRANSFER_TIMEOUT, Transport, TransportSettings, api_timeout

        _DEFAULT_TRANSPORT = Transport(
            TransportSettings(
                endpoint="https://openai.edu-aliyun.com",
                app_key="",
                app_secret="",
                timeout=api_timeout(30.0),
                transfer_timeout=DEFAULT_TRANSFER_TIMEOUT,
                user_agent=USER_AGENT,
                verify=True,
            )
        )
    return _DEFAULT_TRANSPORT


_DEFAULT_TRANSPORT: Transport | None = None


class FileOutput(str):
    """A file produced by a workflow. The string value is its (time-limited) URL."""

    _transport: Transport | None
    _retry: RetryPolicy
    #: The task that produced the file (named in download errors), when known.
    task_id: str | None

    def __new__(
        cls,
        url: str,
        *,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        task_id: str | None = None,
    ) -> FileOutput:
        self = super().__new__(cls, url)
        self._transport = transport
        self._retry = retry or RetryPolicy()
        self.task_id = task_id
        return self

    @property
    def url(self) -> str:
        return str.__str__(self)

    @property
    def filename(self) -> str:
        """The name to save under: the last part of the URL's decoded path, made a plain
        file name (no folders, no ``..``), else ``"output"``."""
        return first_safe_name(url_name(self.url))

    def __repr__(self) -> str:
        return f"FileOutput({self.url!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        from ._flows.pickling import reduce_output

        return reduce_output(self)  # its download settings, never credentials

    def _parts(self) -> tuple[Transport, CallSettings, httpx.Timeout]:
        transport = self._transport or _default_transport()
        timeout = transport.settings.transfer_timeout
        return transport, CallSettings(timeout=timeout, retry=self._retry), timeout

    def read(self) -> bytes:
        """The whole file, in memory. For large files prefer :meth:`save` or iteration."""
        transport, settings, timeout = self._parts()
        sink = _MemorySink()
        run_sync(download_flow(self.url, sink, settings, timeout, task_id=self.task_id), transport)
        return sink.buffer.getvalue()

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Stream the file to ``path`` (a file, or a folder to save into under
        :attr:`filename`; default: the current folder) and return where it was written."""
        return self._save(path, self.filename)

    def _save(self, path: object, name: str) -> Path:
        transport, settings, timeout = self._parts()
        return run_sync(save_flow(self.url, path, name, settings, timeout, task_id=self.task_id), transport)

    async def async_read(self) -> bytes:
        transport, settings, timeout = self._parts()
        sink = _MemorySink()
        await run_async(download_flow(self.url, sink, settings, timeout, task_id=self.task_id), transport)
        return sink.buffer.getvalue()

    async def async_save(self, path: str | os.PathLike[str] | None = None) -> Path:
        return await self._async_save(path, self.filename)

    async def _async_save(self, path: object, name: str) -> Path:
        transport, settings, timeout = self._parts()
        return await run_async(save_flow(self.url, path, name, settings, timeout, task_id=self.task_id), transport)

    def _route(self) -> Route:
        return Route("GET", self.url, f"downloading {_path_of(self.url)}", self.task_id)

    def iter_bytes(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """Stream the file in chunks (no retries: a consumer may have used earlier chunks)."""
        transport, _, timeout = self._parts()
        route = self._route()
        if (refusal := route.refusal()) is not None:
            raise refusal
        try:
            while True:
                with transport.sync_storage.stream("GET", route.url, timeout=timeout, follow_redirects=False) as r:
                    file = delivers("GET", r.status_code)
                    step = route.step(TransferOutcome(r) if file else TransferOutcome(r, body=sync_body_head(r)))
                    if isinstance(step, SpeedPixException):
                        raise step
                    if step:
                        yield from r.iter_bytes(chunk_size)
                        return
        except TRANSFER_FAILURES as error:
            raise _failure(route, error) from None

    def __iter__(self) -> Iterator[bytes]:  # type: ignore[override]
        return self.iter_bytes()

    async def aiter_bytes(self, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        transport, _, timeout = self._parts()
        route = self._route()
        if (refusal := route.refusal()) is not None:
            raise refusal
        try:
            storage = await transport.async_storage()
            while True:
                async with storage.stream("GET", route.url, timeout=timeout, follow_redirects=False) as r:
                    file = delivers("GET", r.status_code)
                    body = b"" if file else await async_body_head(r)
                    step = route.step(TransferOutcome(r, body=body))
                    if isinstance(step, SpeedPixException):
                        raise step
                    if step:
                        async for chunk in r.aiter_bytes(chunk_size):
                            yield chunk
                        return
        except TRANSFER_FAILURES as error:
            raise _failure(route, error) from None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.aiter_bytes()

    # Images and notebooks (speedpix/_images.py, speedpix/_display.py).

    def to_pil(self) -> PIL.Image.Image:
        """The file as a ``PIL.Image`` (needs Pillow: ``pip install 'speedpix[images]'``)."""
        from ._core.images import to_pil

        return to_pil(self)

    async def async_to_pil(self) -> PIL.Image.Image:
        from ._core.images import async_to_pil

        return await async_to_pil(self)

    def _repr_png_(self) -> bytes | None:
        from ._flows.preview import repr_png

        return repr_png(self)

    def _repr_jpeg_(self) -> bytes | None:
        from ._flows.preview import repr_jpeg

        return repr_jpeg(self)

    def _repr_html_(self) -> str | None:
        from ._flows.preview import repr_html

        return repr_html(self)


class FileNode(dict[str, Any]):
    """A result node describing a file (a dict with ``url``, ``type``, ``filename``…).

    It stays a plain dict for reading and JSON, and offers the ``FileOutput`` methods of
    its ``url``.
    """

    @property
    def file(self) -> FileOutput:
        url = self["url"]
        return url if isinstance(url, FileOutput) else FileOutput(str(url))

    @property
    def url(self) -> str:
        return str(self["url"])

    def read(self) -> bytes:
        return self.file.read()

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """:meth:`FileOutput.save`; into a folder, under :attr:`filename`."""
        return self.file._save(path, self.filename)

    async def async_read(self) -> bytes:
        return await self.file.async_read()

    async def async_save(self, path: str | os.PathLike[str] | None = None) -> Path:
        return await self.file._async_save(path, self.filename)

    @property
    def filename(self) -> str:
        """The name to save under: the node's ``filename`` made a plain file name (no
        folders, no ``..``), else the URL's (see :attr:`FileOutput.filename`)."""
        return first_safe_name(self.get("filename"), url_name(self.url))

    # Images and notebooks (speedpix/_images.py, speedpix/_display.py).

    def to_pil(self) -> PIL.Image.Image:
        """The file as a ``PIL.Image`` (needs Pillow: ``pip install 'speedpix[images]'``)."""
        return self.file.to_pil()

    async def async_to_pil(self) -> PIL.Image.Image:
        return await self.file.async_to_pil()

    def _repr_png_(self) -> bytes | None:
        from ._flows.preview import repr_png

        return repr_png(self)

    def _repr_jpeg_(self) -> bytes | None:
        from ._flows.preview import repr_jpeg

        return repr_jpeg(self)

    def _repr_html_(self) -> str | None:
        from ._flows.preview import repr_html

        return repr_html(self)


def _failure(route: Route, error: Exception) -> SpeedPixException:
    """The typed error of a streamed GET that the HTTP library failed."""
    step = route.step(TransferOutcome(error=error))
    assert isinstance(step, SpeedPixException)
    return step


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def wrap_output(
    value: Any, *, transport: Transport | None, retry: RetryPolicy | None = None, task_id: str | None = None
) -> Any:
    """Turn every http(s) URL in ``value`` into a FileOutput and every dict with one under
    ``url`` into a FileNode; everything else is returned as it is."""
    if isinstance(value, str):
        return FileOutput(value, transport=transport, retry=retry, task_id=task_id) if _is_url(value) else value
    if isinstance(value, dict):
        wrapped = {
            key: wrap_output(child, transport=transport, retry=retry, task_id=task_id) for key, child in value.items()
        }
        url = wrapped.get("url")
        return FileNode(wrapped) if isinstance(url, FileOutput) else wrapped
    if isinstance(value, list):
        return [wrap_output(child, transport=transport, retry=retry, task_id=task_id) for child in value]
    return value
