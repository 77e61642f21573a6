"""Workflow outputs: every URL in a result becomes a :class:`FileOutput`.

A ``FileOutput`` *is* the URL string (so printing, comparing and ``json.dumps`` of an
output keep working) and can also ``read()`` or ``save()`` the file — streamed, with
constant memory, written atomically. A result node that is a dict with a ``url`` is a
:class:`FileNode`, a dict that can ``save()`` too, so both README idioms work:
``output['images']['url'].save(p)`` and ``output['images'].save(p)``.

Output URLs are presigned storage links: they are fetched without gateway credentials.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import httpx

from ._api import transport_error
from ._flow import Flow, Get, Sleep, run_async, run_sync
from ._retry import CallSettings, RetryPolicy, retry_delay

if TYPE_CHECKING:
    import PIL.Image

    from ._transport import Transport

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
    so a failed or interrupted download never leaves a truncated file under the real name."""

    blocking = True

    def __init__(self, target: Path) -> None:
        self.target = target
        self._file: Any = None

    def open(self) -> None:
        self.discard()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._file = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in commit/discard)
            dir=self.target.parent, prefix=f".{self.target.name}.", suffix=".part", delete=False
        )

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def commit(self) -> None:
        self._file.close()
        # NamedTemporaryFile makes 0600 files; a saved output gets the usual 0666 & ~umask.
        os.chmod(self._file.name, 0o666 & ~_UMASK)
        os.replace(self._file.name, self.target)
        self._file = None

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            Path(self._file.name).unlink(missing_ok=True)
            self._file = None


def download_flow(
    url: str, sink: Any, settings: CallSettings, timeout: httpx.Timeout, *, task_id: str | None = None
) -> Flow[None]:
    from .files import storage_error

    attempt = 0
    while True:
        attempt += 1
        outcome = yield Get(url, sink, settings.attempt_timeout(timeout), attempt)
        error = storage_error(outcome, what=f"downloading {_path_of(url)}", task_id=task_id)
        if error is None:
            return
        delay = retry_delay(error, attempt=attempt, idempotent=True, policy=settings.retry)
        if delay is None or not settings.allows_sleep(delay):
            raise error
        yield Sleep(delay)


def _path_of(url: str) -> str:
    return urlsplit(url).path or url


def _default_transport() -> Transport:
    """Storage-only transport for a FileOutput made outside a client (no credentials)."""
    global _DEFAULT_TRANSPORT
    if _DEFAULT_TRANSPORT is None:
        from ._transport import DEFAULT_TRANSFER_TIMEOUT, Transport, TransportSettings, api_timeout
        from ._version import USER_AGENT

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
        """The last part of the URL's path: a sensible name to save under."""
        return unquote(_path_of(self.url).rsplit("/", 1)[-1]) or "output"

    def __repr__(self) -> str:
        return f"FileOutput({self.url!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        from ._pickling import reduce_output

        return reduce_output(self)  # its download settings, never credentials

    def _parts(self) -> tuple[Transport, CallSettings, httpx.Timeout]:
        transport = self._transport or _default_transport()
        timeout = transport.settings.transfer_timeout
        return transport, CallSettings(timeout=timeout, retry=self._retry), timeout

    def _target(self, path: str | os.PathLike[str] | None) -> Path:
        target = Path(path) if path is not None else Path(self.filename)
        if target.is_dir():
            target = target / self.filename
        return target

    def read(self) -> bytes:
        """The whole file, in memory. For large files prefer :meth:`save` or iteration."""
        transport, settings, timeout = self._parts()
        sink = _MemorySink()
        run_sync(download_flow(self.url, sink, settings, timeout, task_id=self.task_id), transport)
        return sink.buffer.getvalue()

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Stream the file to ``path`` (a file, or a directory to save into under the URL's
        file name; default: the current directory) and return where it was written."""
        transport, settings, timeout = self._parts()
        target = self._target(path)
        run_sync(download_flow(self.url, _AtomicFileSink(target), settings, timeout, task_id=self.task_id), transport)
        return target

    async def async_read(self) -> bytes:
        transport, settings, timeout = self._parts()
        sink = _MemorySink()
        await run_async(download_flow(self.url, sink, settings, timeout, task_id=self.task_id), transport)
        return sink.buffer.getvalue()

    async def async_save(self, path: str | os.PathLike[str] | None = None) -> Path:
        transport, settings, timeout = self._parts()
        target = self._target(path)
        await run_async(
            download_flow(self.url, _AtomicFileSink(target), settings, timeout, task_id=self.task_id), transport
        )
        return target

    def iter_bytes(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """Stream the file in chunks (no retries: a consumer may have used earlier chunks)."""
        from ._flow import Outcome
        from .files import storage_error

        transport, _, timeout = self._parts()
        what = f"downloading {_path_of(self.url)}"
        try:
            with transport.sync_storage.stream("GET", self.url, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise storage_error(Outcome(response=response), what=what, task_id=self.task_id)  # type: ignore[misc]
                yield from response.iter_bytes(chunk_size)
        except httpx.TransportError as error:
            raise transport_error(error, what=what, task_id=self.task_id) from None

    def __iter__(self) -> Iterator[bytes]:  # type: ignore[override]
        return self.iter_bytes()

    async def aiter_bytes(self, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        from ._flow import Outcome
        from .files import storage_error

        transport, _, timeout = self._parts()
        what = f"downloading {_path_of(self.url)}"
        try:
            storage = await transport.async_storage()
            async with storage.stream("GET", self.url, timeout=timeout) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise storage_error(Outcome(response=response), what=what, task_id=self.task_id)  # type: ignore[misc]
                async for chunk in response.aiter_bytes(chunk_size):
                    yield chunk
        except httpx.TransportError as error:
            raise transport_error(error, what=what, task_id=self.task_id) from None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.aiter_bytes()

    # Images and notebooks (speedpix/_images.py, speedpix/_display.py).

    def to_pil(self) -> PIL.Image.Image:
        """The file as a ``PIL.Image`` (needs Pillow: ``pip install 'speedpix[images]'``)."""
        from ._images import to_pil

        return to_pil(self)

    async def async_to_pil(self) -> PIL.Image.Image:
        from ._images import async_to_pil

        return await async_to_pil(self)

    def _repr_png_(self) -> bytes | None:
        from ._display import repr_png

        return repr_png(self)

    def _repr_jpeg_(self) -> bytes | None:
        from ._display import repr_jpeg

        return repr_jpeg(self)

    def _repr_html_(self) -> str | None:
        from ._display import repr_html

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
        return self.file.save(path if path is not None else self._default_name())

    async def async_read(self) -> bytes:
        return await self.file.async_read()

    async def async_save(self, path: str | os.PathLike[str] | None = None) -> Path:
        return await self.file.async_save(path if path is not None else self._default_name())

    def _default_name(self) -> str:
        name = self.get("filename")
        return name if isinstance(name, str) and name and "/" not in name else self.file.filename

    # Images and notebooks (speedpix/_images.py, speedpix/_display.py).

    def to_pil(self) -> PIL.Image.Image:
        """The file as a ``PIL.Image`` (needs Pillow: ``pip install 'speedpix[images]'``)."""
        return self.file.to_pil()

    async def async_to_pil(self) -> PIL.Image.Image:
        return await self.file.async_to_pil()

    def _repr_png_(self) -> bytes | None:
        from ._display import repr_png

        return repr_png(self)

    def _repr_jpeg_(self) -> bytes | None:
        from ._display import repr_jpeg

        return repr_jpeg(self)

    def _repr_html_(self) -> str | None:
        from ._display import repr_html

        return repr_html(self)


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
