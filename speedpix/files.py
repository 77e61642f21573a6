"""Temporary file uploads: sign, then stream a PUT, then use ``accessUrl``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from speedpix_api import Client as GeneratedClient
from speedpix_api.models import UploadSignRequest
from speedpix_api.types import Unset

from ._core.errors import MalformedResponseError
from ._core.inputs import FileSource, file_source
from ._core.retry import CallSettings
from ._flows.calls import UPLOAD_SIGN, api_call, present
from ._flows.transfers import transfer_flow
from ._wire.drivers import Blocking, Flow, Put

if TYPE_CHECKING:
    from .client import Client


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


def _text(value: object) -> str | None:
    return None if value is None or isinstance(value, Unset) else str(value)


def upload_flow(
    api: GeneratedClient, source: FileSource, settings: CallSettings, transfer_timeout: httpx.Timeout
) -> Flow[File]:
    """Ask for a presigned URL, then stream the file to it (from its start on each retry)."""
    request = UploadSignRequest(original_filename=source.name, content_type=source.content_type, size=source.size)
    reply = yield from api_call(UPLOAD_SIGN(client=api, body=request), settings)
    data = present(reply.envelope.data)
    upload_url, access_url = _text(data.upload_url), _text(data.access_url)
    if not upload_url or not access_url:
        raise MalformedResponseError(
            "sp_create_temp_file_upload_sign returned no uploadUrl/accessUrl.",
            request_id=reply.request_id,
            api_invoke_id=reply.api_invoke_id,
        )
    # The PUT must carry the Content-Type that was signed, and a length: presigned
    # storage URLs refuse chunked uploads.
    headers = {"Content-Type": source.content_type, "Content-Length": str(source.size)}

    def put(url: str, attempt: int) -> Put:
        return Put(url, source, headers, settings.attempt_timeout(transfer_timeout), attempt, settings.deadline)

    yield from transfer_flow("PUT", upload_url, put, settings, what=f"uploading {source.name}")
    expire = data.expire_time
    return File(
        access_url=access_url,
        name=source.name,
        content_type=source.content_type,
        size=source.size,
        object_key=_text(data.object_key),
        path=_text(data.path),
        expire_time=None if isinstance(expire, Unset) else expire,
    )


def create_file_flow(
    api: GeneratedClient,
    file: Any,
    settings: CallSettings,
    transfer_timeout: httpx.Timeout,
    *,
    filename: str | None,
    content_type: str | None,
) -> Flow[File]:
    source = yield Blocking(lambda: file_source(file, label=[], name=filename, content_type=content_type))
    return (yield from upload_flow(api, source, settings, transfer_timeout))


class Files:
    """``client.files``: upload local files for use as workflow inputs."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self, file: Any, *, filename: str | None = None, content_type: str | None = None, timeout: float | None = None
    ) -> File:
        """Upload a path, ``Path``, binary file object or bytes (streamed from disk), or a PIL
        image or uint8 numpy array (as a PNG)."""
        flow = create_file_flow(
            self._client.api,
            file,
            self._client._call_settings(timeout),
            self._client._transfer_timeout,
            filename=filename,
            content_type=content_type,
        )
        return self._client._run_sync(flow)

    async def async_create(
        self, file: Any, *, filename: str | None = None, content_type: str | None = None, timeout: float | None = None
    ) -> File:
        """Async :meth:`create`: file reads run in worker threads, off the event loop."""
        flow = create_file_flow(
            self._client.api,
            file,
            self._client._call_settings(timeout),
            self._client._transfer_timeout,
            filename=filename,
            content_type=content_type,
        )
        return await self._client._run_async(flow)
