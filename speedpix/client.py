"""The SpeedPix client: configuration, connections, and ``run``."""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import time
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import httpx

from ._core import validate
from ._core.errors import ConfigurationError, InvalidInputError, PredictionError
from ._core.logging import configure_from_env
from ._core.polling import EstimateTrust
from ._core.retry import DEFAULT_MAX_RETRIES, INITIAL_DELAY, MAX_DELAY, CallSettings, RetryPolicy
from ._core.validate import DEFAULT_ENDPOINT, check_header_values
from ._flows.pickling import ClientConfig, restore_client
from ._version import USER_AGENT
from ._wire.connections import DEFAULT_TRANSFER_TIMEOUT, Transport, TransportSettings, api_timeout

# What calls need is imported by the first call: `from speedpix import Client` stays
# close to the cost of `import httpx` (the generated models, attrs and asyncio are not).
if TYPE_CHECKING:
    from speedpix_api import Client as GeneratedClient
    from speedpix_api.api.predictions import ComfyPromptRequestOptions

    from ._wire.drivers import Flow
    from .files import Files
    from .predictions import Prediction, Predictions, ProgressCallback

T = TypeVar("T")

__all__ = ["DEFAULT_ENDPOINT", "Client"]

#: How long ``run()``/``wait()`` wait for a task when the caller gives no ``timeout``.
DEFAULT_WAIT_TIMEOUT = 30 * 60.0


def _retry_policy(max_retries: object, retry_delay: object) -> RetryPolicy:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidInputError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    if isinstance(retry_delay, bool) or not isinstance(retry_delay, int | float) or not 0 <= retry_delay <= MAX_DELAY:
        raise InvalidInputError(f"retry_delay must be a number of seconds from 0 to {MAX_DELAY}, got {retry_delay!r}")
    return RetryPolicy(max_retries=max_retries, initial_delay=float(retry_delay))


class Client:
    """A SpeedPix client. Safe to share across threads and across ``asyncio.run()`` calls.

    Credentials come from the arguments, else from ``SPEEDPIX_APP_KEY`` /
    ``SPEEDPIX_APP_SECRET``; the endpoint from ``endpoint``, else ``SPEEDPIX_ENDPOINT``,
    else ``https://openai.edu-aliyun.com``.

    ``timeout`` is the per-request timeout of API calls; uploads and downloads have
    their own (``transfer_timeout``), per chunk, so large files are fine.
    ``max_retries`` applies to every call (see the README for what is retried);
    ``retry_delay`` is the wait before the first retry, doubled on each further one up
    to 8 s and scaled by a random jitter (a server's ``Retry-After`` wins, capped at 30 s).
    ``detect_file_paths=False`` sends every plain string as text, never as a file.
    ``max_connections`` bounds the connections (and requests in flight) per pool.
    ``httpx_args`` go to the httpx clients (e.g. ``{"event_hooks": ...}``, ``proxy``).
    Sync calls go through ``httpx.Client``, async ones through ``httpx.AsyncClient`` on
    aiohttp (httpx-aiohttp), whatever the environment or ``httpx_args`` say. They keep
    and send no cookies.
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
        httpx_args: dict[str, Any] | None = None,
    ) -> None:
        configure_from_env()
        app_key = app_key if app_key is not None else os.environ.get("SPEEDPIX_APP_KEY")
        app_secret = app_secret if app_secret is not None else os.environ.get("SPEEDPIX_APP_SECRET")
        if not app_key:
            raise ConfigurationError(
                "Missing app key: pass app_key=... or set the SPEEDPIX_APP_KEY environment variable."
            )
        if not app_secret:
            raise ConfigurationError(
                "Missing app secret: pass app_secret=... or set the SPEEDPIX_APP_SECRET environment variable."
            )
        if not isinstance(app_key, str) or not isinstance(app_secret, str):
            raise ConfigurationError("app_key and app_secret must be strings")
        check_header_values(error=ConfigurationError, app_key=app_key, user_agent=user_agent)
        endpoint = endpoint or os.environ.get("SPEEDPIX_ENDPOINT") or DEFAULT_ENDPOINT
        request_timeout = validate.positive("timeout", timeout)
        assert request_timeout is not None
        self._wait_timeout = validate.positive("wait_timeout", wait_timeout, allow_none=True)
        transfer = validate.positive("transfer_timeout", transfer_timeout, allow_none=True)
        if not isinstance(detect_file_paths, bool):
            raise InvalidInputError(f"detect_file_paths must be True or False, got {detect_file_paths!r}")
        if httpx_args and "cookies" in httpx_args:
            raise ConfigurationError(
                "httpx_args cannot set cookies: SpeedPix clients keep and send none (the gateway would not sign "
                "them). Remove 'cookies' from httpx_args."
            )
        self.endpoint = validate.endpoint(endpoint)
        self._retry_policy = _retry_policy(max_retries, retry_delay)
        self._request_timeout = api_timeout(request_timeout)
        self._transfer_timeout = (
            DEFAULT_TRANSFER_TIMEOUT if transfer is None else httpx.Timeout(transfer, connect=min(transfer, 10.0))
        )
        self._detect_file_paths = detect_file_paths
        self._estimate_trust = EstimateTrust()
        # What a pickle of this client holds: see _pickling.
        self._config = ClientConfig(
            app_key=app_key, app_secret=app_secret, endpoint=self.endpoint, timeout=timeout, user_agent=user_agent,
            max_retries=max_retries, retry_delay=retry_delay, wait_timeout=wait_timeout,
            transfer_timeout=transfer_timeout, detect_file_paths=detect_file_paths, verify=verify,
            max_connections=max_connections, httpx_args=httpx_args,
        )  # fmt: skip
        self._transport = Transport(
            TransportSettings(
                endpoint=self.endpoint,
                app_key=app_key,
                app_secret=app_secret,
                timeout=self._request_timeout,
                transfer_timeout=self._transfer_timeout,
                user_agent=user_agent or USER_AGENT,
                verify=verify,
                max_connections=max_connections,
                extra_httpx_args=dict(httpx_args or {}),
            )
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore_client, (self._config,))

    def __copy__(self) -> Client:  # shares the connections (with_options); a pickle does not
        clone = object.__new__(Client)
        clone.__dict__.update(self.__dict__)
        return clone

    @property
    def app_key(self) -> str:
        return self._transport.settings.app_key

    @property
    def detect_file_paths(self) -> bool:
        """Whether a plain string naming an existing media file is uploaded as that file."""
        return self._detect_file_paths

    def __repr__(self) -> str:
        return f"Client(endpoint={self.endpoint!r}, app_key={self.app_key!r}, app_secret=<hidden>)"

    # ------------------------------------------------------------ plumbing

    @functools.cached_property
    def api(self) -> GeneratedClient:
        """The generated low-level client (``speedpix_api``) with signing attached.

        ``speedpix_api.api.predictions.comfy_get_progress.sync(client=client.api, body=...)``,
        or ``await ....asyncio(client=client.api, ...)``: it uses this client's connections
        (the running loop's, when async), before and after ``close()``.
        """
        from ._wire.lowlevel import SignedAPIClient

        return SignedAPIClient(self._transport)

    @functools.cached_property
    def predictions(self) -> Predictions:
        """Create tasks and look them up by id."""
        from .predictions import Predictions

        return Predictions(self)

    @functools.cached_property
    def files(self) -> Files:
        """Upload local files for use as workflow inputs."""
        from .files import Files

        return Files(self)

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
        clone = copy.copy(self)
        if retry_throttled is not None and not isinstance(retry_throttled, bool):
            raise InvalidInputError(f"retry_throttled must be True or False, got {retry_throttled!r}")
        clone._config = self._config.replace(
            max_retries=max_retries,
            retry_delay=retry_delay,
            timeout=timeout,
            wait_timeout=wait_timeout,
            retry_throttled=retry_throttled,
        )
        clone._retry_policy = dataclasses.replace(
            _retry_policy(
                self._retry_policy.max_retries if max_retries is None else max_retries,
                self._retry_policy.initial_delay if retry_delay is None else retry_delay,
            ),
            retry_throttled=clone._config.retry_throttled,
        )
        if timeout is not None:
            seconds = validate.positive("timeout", timeout)
            assert seconds is not None
            clone._request_timeout = api_timeout(seconds)
        if wait_timeout is not None:
            clone._wait_timeout = validate.positive("wait_timeout", wait_timeout)
        for bound in ("predictions", "files"):  # made anew, for the clone
            clone.__dict__.pop(bound, None)
        return clone

    def _call_settings(self, timeout: float | None, *, wait: bool = False) -> CallSettings:
        """Settings of one façade call; ``timeout`` bounds it as a whole (retries included)."""
        overall = validate.positive("timeout", timeout, allow_none=True)
        if overall is None and wait:
            overall = self._wait_timeout
        return CallSettings(
            timeout=self._request_timeout,
            retry=self._retry_policy,
            deadline=None if overall is None else time.monotonic() + overall,
        )

    def _run_sync(self, flow: Flow[T]) -> T:
        from ._wire.drivers import run_sync

        return run_sync(flow, self._transport)

    async def _run_async(self, flow: Flow[T]) -> T:
        from ._wire.drivers import run_async

        return await run_async(flow, self._transport)

    def close(self) -> None:
        """Release the client's connections. The client can still be used afterwards."""
        self._transport.close()

    async def aclose(self) -> None:
        await self._transport.aclose()
        # An asyncio transport closes its socket on the loop's next turn: take that turn,
        # so the connections are closed once aclose() returns (emu.open_connections == 0).
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

    # ------------------------------------------------------------ run

    def _run_flow(
        self,
        workflow_id: str,
        input: Any,
        *,
        resource_config_id: str | None,
        file_encoding_strategy: str,
        wait: bool,
        timeout: float | None,
        polling_interval: float | None,
        on_progress: ProgressCallback | None,
        options: ComfyPromptRequestOptions,
    ) -> Flow[Any]:
        if not isinstance(wait, bool):
            raise InvalidInputError(f"wait must be True or False, got {wait!r}")
        if polling_interval is not None:
            validate.positive("polling_interval", polling_interval)
        if on_progress is not None and not callable(on_progress):
            raise InvalidInputError("on_progress must be a callable taking the Prediction")
        from .predictions import create_flow

        settings = self._call_settings(timeout, wait=wait)
        prediction: Prediction = yield from create_flow(
            self,
            settings,
            workflow_id=workflow_id,
            input=input,
            resource_config_id=resource_config_id,
            file_encoding_strategy=file_encoding_strategy,
            options=options,
        )
        if not wait:
            return prediction
        yield from prediction._wait_flow(settings, polling_interval, on_progress)
        if prediction.status != "succeeded":
            raise PredictionError(
                f"Task {prediction.id} {prediction.status}: {prediction.error or 'no error message'}"
                + (f" ({prediction.error_code})" if prediction.error_code else ""),
                prediction=prediction,
            )
        return prediction.output

    def run(
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
    ) -> Any:
        """Run a workflow and return its output (or, with ``wait=False``, the Prediction).

        Files in ``input`` are uploaded first. ``timeout`` bounds the whole call;
        a task that fails raises :class:`PredictionError`. ``max_retries`` overrides the
        client's for this call (see also :meth:`with_options`). ``options`` are the
        optional fields of the spec's ``comfy_prompt`` request (``alias_id`` — ``"main"``
        unless ``version_id`` is given —, ``version_id``, ``randomise_seeds``,
        ``return_temp_files``, and any the spec gains).
        """
        client = self if max_retries is None else self.with_options(max_retries=max_retries)
        return client._run_sync(
            client._run_flow(
                workflow_id,
                input,
                resource_config_id=resource_config_id,
                file_encoding_strategy=file_encoding_strategy,
                wait=wait,
                timeout=timeout,
                polling_interval=polling_interval,
                on_progress=on_progress,
                options=options,
            )
        )

    async def async_run(
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
    ) -> Any:
        """Async :meth:`run`; uploads of several input files run concurrently."""
        client = self if max_retries is None else self.with_options(max_retries=max_retries)
        return await client._run_async(
            client._run_flow(
                workflow_id,
                input,
                resource_config_id=resource_config_id,
                file_encoding_strategy=file_encoding_strategy,
                wait=wait,
                timeout=timeout,
                polling_interval=polling_interval,
                on_progress=on_progress,
                options=options,
            )
        )
