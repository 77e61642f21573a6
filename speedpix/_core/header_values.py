"""Values the SDK sends as HTTP headers, checked before any request.

``app_key``, ``user_agent``, ``resource_config_id`` and an upload's content type go
on the wire as header values. A line break there would end the header (httpx refuses
it, but only once the request is on its way, and then it looks like a network failure
after which a task "may have been created"); a non-ASCII character cannot be encoded;
a 10 MB value is refused by any gateway. So they are refused here, as bad input.
"""

from __future__ import annotations

import re

from .errors import InvalidInputError

#: Longest header value accepted (gateways refuse heads beyond a few tens of KiB).
MAX_HEADER_VALUE = 8 * 1024
# RFC 9110 field values, restricted to what every server reads alike: visible ASCII,
# space and tab.
_NOT_ALLOWED = re.compile(r"[^\t\x20-\x7e]")


def check_header_values(*, error: type[InvalidInputError] = InvalidInputError, **values: object) -> None:
    """Raise ``error`` naming the first value that cannot be sent as a header.

    ``None`` values are skipped (not given); a value that is not a string is left to the
    caller's own type checks.
    """
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if len(value) > MAX_HEADER_VALUE:
            raise error(
                f"{name} is {len(value)} characters long: it is sent as an HTTP header, "
                f"which is limited to {MAX_HEADER_VALUE} characters here. Check the value."
            )
        bad = _NOT_ALLOWED.search(value)
        if bad is not None:
            char = bad.group()
            shown = repr(char) if char.isascii() else f"{char!r} (U+{ord(char):04X})"
            raise error(
                f"{name} contains {shown} at position {bad.start()}: it is sent as an HTTP header, "
                "which allows printable ASCII only (no line breaks, NUL or non-ASCII characters). "
                "Check the value (e.g. a trailing newline read from a file)."
            )
