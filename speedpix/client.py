"""The SpeedPix client: configuration, connections, and ``run``."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Unpack

from ._core.config import DEFAULT_WAIT_TIMEOUT, Config
from ._core.logging import configure_from_env
from ._core.retry import DEFAULT_MAX_RETRIES, INITIAL_DELAY
from ._core.twins import sync_and_async
from ._core.validate import DEFAULT_ENDPOINT

# What calls need is imported by the first call: `from speedpix import Client` stays cheap.
if TYPE_CHECKING:
    from speedpix_api import Client as GeneratedClient
    from speedpix_api.api.predictions import ComfyPromptRequestOptions

    from ._core.effects import Flow
    from ._flows.handle import Handle
    from .files import Files
    from .predictions import Predictions, ProgressCallback

__all__ = ["DEFAULT_ENDPOINT", "Client"]


class Client:
    """A SpeedPix client. Safe to share across threads and across ``asyncio.run()`` calls.

    Credentials come from the arguments, else ``SPEEDPIX_APP_KEY`` / ``SPEEDPIX_APP_SECRET``;
    the endpoint from ``endpoint``, else ``SPEEDPIX_ENDPOINT``, else ``https://openai.edu-aliyun.com``.

    ``timeout`` is the per-request timeout of API calls; uploads and downloads have their own
    (``transfer_timeout``), per chunk. ``max_retries`` applies to every call (see the README);
    ``retry_delay`` is the wait before the first retry, doubled on each further one up to 8 s,
    with jitter (a server's ``Retry-After`` wins, capped at 30 s). ``detect_file_paths=False``
    sends every plain string as text, never as a file. ``max_connections`` bounds the
    connections per pool. The same input content is uploaded once and its link reused while
    valid for 20 more minutes (``reuse_uploads=False``: upload every time). ``httpx_args`` go
    to the httpx clients (``event_hooks``, ``proxy``...): ``httpx.Client`` for sync calls,
    ``httpx.AsyncClient`` on aiohttp for async ones, whatever the environment or ``httpx_args``
    say. They keep and send no cookies.
    """

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        endpoint: str | None = None,
        timeout: float = 30.0,
        user_agent: str | None = None,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_delay: float = INITIAL_DELAY,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        transfer_timeout: float | None = None,
        detect_file_paths: bool = True,
        verify: bool | str = True,
        max_connections: int = 100,
        reuse_uploads: bool = True,
        httpx_args: dict[str, Any] | None = None,
    ) -> None:
        configure_from_env()
        self._config = Config.resolve(
            app_key=app_key, app_secret=app_secret, endpoint=endpoint, timeout=timeout, user_agent=user_agent,
            max_retries=max_retries, retry_delay=retry_delay, wait_timeout=wait_timeout,
            transfer_timeout=transfer_timeout, detect_file_paths=detect_file_paths, verify=verify,
            max_connections=max_connections, reuse_uploads=reuse_uploads, httpx_args=httpx_args,
        )  # fmt: skip

    @classmethod
    def _from_config(cls, config: Config, handle: Handle | None = None) -> Client:
        client = object.__new__(cls)
        client._config = config
        if handle is not None:
            client.__dict__["_handle"] = handle
        return client

    def __reduce__(self) -> tuple[Any, ...]:  # unpickled: the same configuration, fresh connections
        return (Client._from_config, (self._config,))

    def __copy__(self) -> Client:  # shares the connections (as with_options does); a pickle does not
        return Client._from_config(self._config, self._handle)

    @functools.cached_property
    def _handle(self) -> Handle:  # on first use: imports the generated client and httpx's
        from ._flows.handle import Handle

        return Handle(self._config)

    @property
    def endpoint(self) -> str:
        return self._config.endpoint

    @property
    def app_key(self) -> str:
        return self._config.app_key

    @property
    def detect_file_paths(self) -> bool:
        """Whether a plain string naming an existing media file is uploaded as that file."""
        return self._config.detect_file_paths

    def __repr__(self) -> str:
        return f"Client(endpoint={self.endpoint!r}, app_key={self.app_key!r}, app_secret=<hidden>)"

    @functools.cached_property
    def api(self) -> GeneratedClient:
        """The generated low-level client (``speedpix_api``) with signing attached.

        ``speedpix_api.api.predictions.comfy_get_progress.sync(client=client.api, body=...)``,
        or ``await ....asyncio(client=client.api, ...)``: it uses this client's connections
        (the running loop's, when async), before and after ``close()``.
        """
        return self._handle.api

    @functools.cached_property
    def predictions(self) -> Predictions:
        """Create tasks and look them up by id."""
        from .predictions import Predictions  # on first use, as _handle

        return Predictions(self._handle)

    @functools.cached_property
    def files(self) -> Files:
        """Upload local files for use as workflow inputs."""
        from .files import Files  # on first use, as _handle

        return Files(self._handle)

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        retry_delay: float | None = None,
        timeout: float | None = None,
        wait_timeout: float | None = None,
        retry_throttled: bool | None = None,
    ) -> Client:
        """A copy of this client with other retry or timeout settings, for some calls.

        It shares this client's connections: ``client.with_options(max_retries=5).run(...)``.
        ``retry_throttled=False`` raises :class:`RateLimitError` at once instead of
        retrying, for callers that pace themselves (as the batch runner does).
        """
        config = self._config.replace(
            max_retries=max_retries,
            retry_delay=retry_delay,
            timeout=timeout,
            wait_timeout=wait_timeout,
            retry_throttled=retry_throttled,
        )
        return Client._from_config(config, self._handle.with_config(config))

    def close(self) -> None:
        """Release the client's connections. The client can still be used afterwards."""
        if "_handle" in self.__dict__:
            self._handle.transport.close()

    async def aclose(self) -> None:
        if "_handle" in self.__dict__:
            await self._handle.transport.aclose()
        # An asyncio transport closes its socket on the loop's next turn: take it, so that the
        # connections are closed once aclose() returns. (`import speedpix` imports no asyncio.)
        import asyncio

        await asyncio.sleep(0)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _run(
        self,
        workflow_id: str,
        input: Any = None,
        *,
        resource_config_id: str | None = None,
        file_encoding_strategy: str = "url",
        wait: bool = True,
        timeout: float | None = None,
        polling_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
        max_retries: int | None = None,
        **options: Unpack[ComfyPromptRequestOptions],
    ) -> tuple[Handle, Flow[Any]]:
        """Run a workflow and return its output (or, with ``wait=False``, the Prediction).

        Files in ``input`` are uploaded first. ``timeout`` bounds the whole call;
        a task that fails raises :class:`PredictionError`. ``max_retries`` overrides the
        client's for this call (see also :meth:`with_options`). ``options`` are the
        optional fields of the spec's ``comfy_prompt`` request (``alias_id`` — ``"main"``
        unless ``version_id`` is given —, ``version_id``, ``randomise_seeds``,
        ``return_temp_files``, and any the spec gains).
        """
        from ._flows.submit import Submission, run_flow  # the flows load with the first call

        handle = (self if max_retries is None else self.with_options(max_retries=max_retries))._handle
        task = Submission(workflow_id, input, resource_config_id, file_encoding_strategy, options)
        return handle, run_flow(
            handle, task, wait=wait, timeout=timeout, polling_interval=polling_interval, on_progress=on_progress
        )

    run, async_run = sync_and_async(_run, "Async :meth:`run`; uploads of several input files run concurrently.")
