"""A client's configuration: one record, checked once (also what a pickled client is)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._version import USER_AGENT
from . import validate
from .errors import ConfigurationError, InvalidInputError
from .retry import DEFAULT_MAX_RETRIES, INITIAL_DELAY, MAX_DELAY, RetryPolicy

#: How long ``run()``/``wait()`` wait for a task when the caller gives no ``timeout``.
DEFAULT_WAIT_TIMEOUT = 30 * 60.0
# What Config.storage_only keeps: how to download, not whom to sign as.
_STORAGE_SETTINGS = ("user_agent", "max_retries", "retry_delay", "transfer_timeout", "verify", "max_connections")


def api_timeout(seconds: float) -> httpx.Timeout:
    """The httpx timeout for a ``timeout=`` in seconds: connecting gets at most 10 s."""
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


@dataclass(frozen=True)
class Config:
    app_key: str
    app_secret: str = field(repr=False)
    endpoint: str = validate.DEFAULT_ENDPOINT
    timeout: float = 30.0
    user_agent: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_delay: float = INITIAL_DELAY
    wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT
    transfer_timeout: float | None = None
    detect_file_paths: bool = True
    verify: bool | str = True
    max_connections: int = 100
    reuse_uploads: bool = True
    httpx_args: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # Not a constructor argument: set by with_options().
    retry_throttled: bool = True

    @classmethod
    def resolve(cls, **arguments: Any) -> Config:
        """``Client(**arguments)``'s configuration, checked; credentials and endpoint default to the environment."""
        for name in ("app_key", "app_secret"):
            variable = f"SPEEDPIX_{name.upper()}"
            if arguments.get(name) is None:
                arguments[name] = os.environ.get(variable)
            if not arguments[name]:
                raise ConfigurationError(
                    f"Missing {name.replace('_', ' ')}: pass {name}=... or set the {variable} environment variable."
                )
        if not isinstance(arguments["app_key"], str) or not isinstance(arguments["app_secret"], str):
            raise ConfigurationError("app_key and app_secret must be strings")
        endpoint = arguments.get("endpoint") or os.environ.get("SPEEDPIX_ENDPOINT") or validate.DEFAULT_ENDPOINT
        config = cls(**{**arguments, "endpoint": endpoint})
        config.check()
        return dataclasses.replace(config, endpoint=validate.endpoint(endpoint))

    def check(self) -> None:
        validate.check_header_values(error=ConfigurationError, app_key=self.app_key, user_agent=self.user_agent)
        validate.positive("timeout", self.timeout)
        validate.positive("wait_timeout", self.wait_timeout, allow_none=True)
        validate.positive("transfer_timeout", self.transfer_timeout, allow_none=True)
        validate.count("max_retries", self.max_retries)
        delay = self.retry_delay
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= MAX_DELAY:
            raise InvalidInputError(f"retry_delay must be a number of seconds from 0 to {MAX_DELAY}, got {delay!r}")
        validate.flag("detect_file_paths", self.detect_file_paths)
        validate.flag("reuse_uploads", self.reuse_uploads)
        validate.flag("retry_throttled", self.retry_throttled)
        if self.httpx_args and "cookies" in self.httpx_args:
            raise ConfigurationError(
                "httpx_args cannot set cookies: SpeedPix clients keep and send none (the gateway would not sign "
                "them). Remove 'cookies' from httpx_args."
            )

    def replace(self, **changes: Any) -> Config:
        """This configuration with the values in ``changes`` that are not None, checked."""
        config = dataclasses.replace(self, **{name: value for name, value in changes.items() if value is not None})
        config.check()
        return config

    def storage_only(self) -> Config:
        """The settings an output is downloaded with: no credentials, no gateway."""
        return Config(app_key="", app_secret="", **{name: getattr(self, name) for name in _STORAGE_SETTINGS})

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, float(self.retry_delay), retry_throttled=self.retry_throttled)

    @property
    def request_timeout(self) -> httpx.Timeout:
        return api_timeout(self.timeout)

    @property
    def transfer_timeouts(self) -> httpx.Timeout:
        """Per chunk, not for the whole transfer: a 1 GB video is fine while bytes keep moving."""
        if self.transfer_timeout is None:
            return httpx.Timeout(connect=10.0, read=120.0, write=120.0, pool=60.0)
        return api_timeout(self.transfer_timeout)

    @property
    def agent(self) -> str:
        return self.user_agent or USER_AGENT
