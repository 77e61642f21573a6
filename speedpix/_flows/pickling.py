"""How clients, predictions and outputs travel to other processes: as configuration.

A pickled :class:`~speedpix.Client` is its constructor's arguments (:class:`ClientConfig`),
never its connections, locks or event-loop state: unpickled, it is a new client with
the same configuration and fresh connections. Its pickle holds the app secret, as the
worker's environment would (``SPEEDPIX_APP_SECRET``): treat it like one.

A pickled :class:`~speedpix.FileOutput` holds no credentials at all: its URL, its task
id, its retry policy and the storage settings it downloads with (:class:`StorageConfig`).
Outputs unpickled in one process with the same settings share one storage-only
connection pool.

These pickles are for shipping work between processes running the same SDK version,
not for storage.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from .._core.retry import RetryPolicy

if TYPE_CHECKING:
    from .._wire.connections import Transport
    from ..client import Client
    from ..output import FileOutput


@dataclass(frozen=True)
class ClientConfig:
    """What a :class:`~speedpix.Client` was made with: its constructor's arguments, the
    credentials and endpoint resolved (an unpickled client does not read the
    environment for them). ``repr`` leaves the secret out."""

    app_key: str
    app_secret: str = field(repr=False)
    endpoint: str
    timeout: float
    user_agent: str | None
    max_retries: int
    retry_delay: float
    wait_timeout: float | None
    transfer_timeout: float | None
    detect_file_paths: bool
    verify: bool | str
    max_connections: int
    httpx_args: dict[str, Any] | None = field(default=None, repr=False)
    # Not a constructor argument: set by with_options().
    retry_throttled: bool = True

    def arguments(self) -> dict[str, Any]:
        """The constructor's arguments."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "retry_throttled"}

    def replace(self, **changes: Any) -> ClientConfig:
        """This configuration with the arguments in ``changes`` that are not None changed."""
        return dataclasses.replace(self, **{name: value for name, value in changes.items() if value is not None})


def restore_client(config: ClientConfig) -> Client:
    """The client a pickle of one made with ``config`` unpickles to."""
    from ..client import Client

    client = Client(**config.arguments())
    return client if config.retry_throttled else client.with_options(retry_throttled=False)


@dataclass(frozen=True)
class StorageConfig:
    """The settings an output is downloaded with (hashable: one pool per distinct one)."""

    transfer_timeout: tuple[float | None, float | None, float | None, float | None]  # connect, read, write, pool
    verify: bool | str
    user_agent: str
    max_connections: int

    @classmethod
    def of(cls, transport: Transport) -> StorageConfig:
        settings = transport.settings
        timeout = settings.transfer_timeout
        return cls(
            (timeout.connect, timeout.read, timeout.write, timeout.pool),
            settings.verify,
            settings.user_agent,
            settings.max_connections,
        )

    def transport(self) -> Transport:
        """A storage-only transport (no credentials) with these settings, shared."""
        with _storage_lock:
            transport = _storage_transports.get(self)
            if transport is None:
                from .._wire.connections import Transport, TransportSettings, api_timeout

                connect, read, write, pool = self.transfer_timeout
                transport = Transport(
                    TransportSettings(
                        endpoint="https://openai.edu-aliyun.com",  # never called: no credentials
                        app_key="",
                        app_secret="",
                        timeout=api_timeout(30.0),
                        transfer_timeout=httpx.Timeout(connect=connect, read=read, write=write, pool=pool),
                        user_agent=self.user_agent,
                        verify=self.verify,
                        max_connections=self.max_connections,
                    )
                )
                _storage_transports[self] = transport
            return transport


# Kept while some output uses them; a dropped transport closes its pools.
_storage_transports: weakref.WeakValueDictionary[StorageConfig, Transport] = weakref.WeakValueDictionary()
_storage_lock = threading.Lock()


def reduce_output(output: FileOutput) -> tuple[Any, ...]:
    transport = output._transport
    storage = StorageConfig.of(transport) if transport is not None else None
    return (restore_output, (output.url, output.task_id, output._retry, storage))


def restore_output(url: str, task_id: str | None, retry: RetryPolicy, storage: StorageConfig | None) -> FileOutput:
    from ..output import FileOutput

    transport = storage.transport() if storage is not None else None
    return FileOutput(url, transport=transport, retry=retry, task_id=task_id)
