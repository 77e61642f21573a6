"""When an uploaded file's ``accessUrl`` may be used again: one pure rule.

The service answers an upload signature with an ``expireTime`` whose unit is
undocumented (seconds or milliseconds, absolute or not), and an ``accessUrl`` that is
itself presigned. A link is reused only while *both* known limits leave at least
:data:`REUSE_MARGIN` seconds — the time a task may wait in the queue before the service
fetches its inputs. Anything unclear (no expiry, a small number that could be relative,
a date without a time zone) means: upload again.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final
from urllib.parse import parse_qs, urlsplit

#: Seconds an accessUrl must stay valid to be reused: the queue wait of a busy account.
REUSE_MARGIN: Final = 20 * 60.0

# Epoch seconds between 2001 and 5138 are read as seconds; ten to a hundred thousand
# times larger, as milliseconds. Smaller numbers could be durations: not trusted.
_SECONDS: Final = (1e9, 1e11)
_MILLISECONDS: Final = (1e12, 1e14)


def _epoch(value: object) -> float | None:
    """``value`` as epoch seconds, when that reading is unambiguous."""
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            value = int(text)
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return parsed.timestamp() if parsed.tzinfo is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if _SECONDS[0] <= value < _SECONDS[1]:
        return float(value)
    if _MILLISECONDS[0] <= value < _MILLISECONDS[1]:
        return value / 1000.0
    return None


def _url_expiry(url: str) -> float | None:
    """The expiry a presigned URL carries: OSS's ``Expires`` (epoch seconds) or S3's
    ``X-Amz-Date`` + ``X-Amz-Expires``; None when it carries none."""
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return None
    if "Expires" in query:
        return _epoch(query["Expires"][0])
    if "X-Amz-Date" in query and "X-Amz-Expires" in query:
        try:
            signed = datetime.strptime(query["X-Amz-Date"][0] + "+0000", "%Y%m%dT%H%M%SZ%z").timestamp()
            return signed + float(query["X-Amz-Expires"][0])
        except ValueError:
            return None
    return None


def valid_until(expire_time: object, access_url: str) -> float | None:
    """Until when (epoch seconds) an uploaded file's ``accessUrl`` is known to work,
    or None when that is not known."""
    until = _epoch(expire_time)
    if until is None or "?" not in access_url:
        return until
    url_until = _url_expiry(access_url)
    return None if url_until is None else min(until, url_until)


def reusable(until: float | None, now: float) -> bool:
    return until is not None and until - now >= REUSE_MARGIN
