"""``client.files``: temporary file uploads (sign, then stream a PUT, then use ``accessUrl``)."""

from __future__ import annotations

from typing import Any

from ._core.effects import Flow
from ._core.twins import sync_and_async
from ._flows.handle import Handle
from ._flows.transfers import File, create_file_flow

__all__ = ["File", "Files"]


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
