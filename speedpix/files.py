"""``client.files``: temporary file uploads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._core.effects import Flow
from ._core.errors import InvalidInputError
from ._core.names import url_name
from ._core.twins import sync_and_async
from ._flows.handle import Handle
from ._flows.transfers import File, create_file_flow
from ._flows.uploads import UploadRecord

__all__ = ["File", "Files", "UploadRecord"]


class Files:
    """``client.files``: upload local files for use as workflow inputs."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    def _create(
        self, file: Any, *, filename: str | None = None, content_type: str | None = None, timeout: float | None = None
    ) -> tuple[Handle, Flow[File]]:
        """Upload a path, ``Path``, binary file object or bytes (streamed from disk), or a PIL
        image or uint8 numpy array (as a PNG)."""
        return self._handle, create_file_flow(self._handle, file, timeout, filename, content_type)

    create, async_create = sync_and_async(
        _create, "Async :meth:`create`: file reads run in worker threads, off the event loop."
    )

    def uploads(self) -> list[UploadRecord]:
        """The input uploads this client (and its ``with_options`` copies) made and may reuse,
        each with until when its link works, to hand to :meth:`reuse` in a later process.
        Empty with ``reuse_uploads=False``. The ``access_url`` is a presigned link: store the
        records where you would store the content itself."""
        return self._handle.uploads.records() if self._handle.config.reuse_uploads else []

    def reuse(self, records: Iterable[UploadRecord]) -> int:
        """Reuse uploads made by another client (see :meth:`uploads`) for the same content, while
        the link stays valid for 20 more minutes. How many were taken (0 with ``reuse_uploads=False``)."""
        records = list(records)
        if not all(isinstance(record, UploadRecord) for record in records):
            raise InvalidInputError("files.reuse() takes UploadRecord values, as files.uploads() returns them")
        if not self._handle.config.reuse_uploads:
            return 0
        return self._handle.uploads.load(
            (
                record.key,
                File(record.access_url, url_name(record.access_url) or "upload", record.content_type, record.size),
                record.until,
            )
            for record in records
        )
