"""The checks of what a caller passes, raised as typed errors before any request."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, cast

import httpx

from .errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from speedpix_api.api.predictions import ComfyPromptRequestOptions

DEFAULT_ENDPOINT = "https://openai.edu-aliyun.com"
#: Longest header value accepted (gateways refuse heads beyond a few tens of KiB).
MAX_HEADER_VALUE = 8 * 1024
# What every server reads alike in a field value (RFC 9110): visible ASCII, space and tab.
_NOT_ALLOWED = re.compile(r"[^\t\x20-\x7e]")


def check_header_values(*, error: type[InvalidInputError] = InvalidInputError, **values: object) -> None:
    """Raise ``error`` naming the first string that cannot be sent as a header value (httpx would
    refuse it only on the way, as if a network failure after which a task "may have been created")."""
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if len(value) > MAX_HEADER_VALUE:
            raise error(
                f"{name} is {len(value)} characters long: it is sent as an HTTP header, "
                f"which is limited to {MAX_HEADER_VALUE} characters here. Check the value."
            )
        if (bad := _NOT_ALLOWED.search(value)) is not None:
            char = bad.group()
            shown = repr(char) if char.isascii() else f"{char!r} (U+{ord(char):04X})"
            raise error(
                f"{name} contains {shown} at position {bad.start()}: it is sent as an HTTP header, "
                "which allows printable ASCII only (no line breaks, NUL or non-ASCII characters). "
                "Check the value (e.g. a trailing newline read from a file)."
            )


def positive(name: str, value: object, *, allow_none: bool = False) -> float | None:
    """``value`` as a positive, finite number of seconds (None if allowed and given)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or math.isnan(value):
        raise InvalidInputError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}")
    return value


def identifier(name: str, value: object, *, optional: bool = False) -> str | None:
    """A non-empty string (an id), or None if optional and not given."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
    return value


def count(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def request_options(options: ComfyPromptRequestOptions) -> ComfyPromptRequestOptions:
    """The optional ``comfy_prompt`` fields to send: the caller's (None is not given), checked, with the defaults."""
    # On first use: `from speedpix import Client` does not load the generated package (attrs).
    from speedpix_api.api.predictions import ComfyPromptRequestOptions

    known = ComfyPromptRequestOptions.__optional_keys__
    options = cast(ComfyPromptRequestOptions, {key: value for key, value in options.items() if value is not None})
    if unknown := sorted(set(options) - known):
        raise InvalidInputError(
            f"unknown option(s) {', '.join(map(repr, unknown))}: the comfy_prompt request takes "
            + ", ".join(sorted(known))
        )
    alias_id = identifier("alias_id", options.get("alias_id"), optional=True)
    version_id = identifier("version_id", options.get("version_id"), optional=True)
    if alias_id is not None and version_id is not None:
        raise InvalidInputError("give alias_id or version_id, not both (alias_id defaults to 'main')")
    fields: ComfyPromptRequestOptions = {"randomise_seeds": False, "return_temp_files": False, **options}
    flag("randomise_seeds", fields["randomise_seeds"])
    flag("return_temp_files", fields["return_temp_files"])
    if version_id is None:
        fields["alias_id"] = alias_id or "main"
    return fields


def endpoint(value: object) -> str:
    """``https://host[:port][/prefix]`` from what a user typed; a bare host gets ``https://``."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"endpoint must be a URL like {DEFAULT_ENDPOINT!r}, got {value!r}")
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as error:
        raise ConfigurationError(f"endpoint {value!r} is not a valid URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host or " " in text:
        raise ConfigurationError(f"endpoint must be an http(s) URL like {DEFAULT_ENDPOINT!r}, got {value!r}")
    if url.query or url.fragment:
        raise ConfigurationError(f"endpoint must not have a query or fragment, got {value!r}")
    return str(url).rstrip("/")
