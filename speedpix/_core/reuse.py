"""When an uploaded file's ``accessUrl`` may be used again: only while both its ``expireTime``
(unit undocumented) and its presigned query leave ``REUSE_MARGIN``; anything unclear: upload again."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final
from urllib.parse import parse_qs, urlsplit

#: Seconds an accessUrl must stay valid to be reused: the queue wait of a busy account.
REUSE_MARGIN: Final = 20 * 60.0


def _epoch(value: object) -> float | None:
    """``value`` as epoch seconds, when that reading is unambiguous."""
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return parsed.timestamp() if parsed.tzinfo is not None else None
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    # Years 2001 to 5138 in seconds, or in milliseconds; smaller numbers could be durations.
    if 1e9 <= value < 1e11:
        return float(value)
    if 1e12 <= value < 1e14:
        return value / 1000.0
    return None


def _url_expiry(url: str) -> float | None:
    """OSS's ``Expires`` or S3's ``X-Amz-Date`` + ``X-Amz-Expires`` of a presigned URL."""
    try:
        query = parse_qs(urlsplit(url).query)
        if "Expires" in query:
            return _epoch(query["Expires"][0])
        signed = datetime.strptime(query["X-Amz-Date"][0] + "+0000", "%Y%m%dT%H%M%SZ%z").timestamp()
        return signed + float(query["X-Amz-Expires"][0])
    except (KeyError, ValueError):
        return None


def valid_until(expire_time: object, access_url: str) -> float | None:
    """Until when (epoch seconds) an uploaded file's ``accessUrl`` is known to work, else None."""
    until = _epoch(expire_time)
    if until is None or "?" not in access_url:
        return until
    url_until = _url_expiry(access_url)
    return None if url_until is None else min(until, url_until)


def reusable(until: float | None, now: float) -> bool:
    return until is not None and until - now >= REUSE_MARGIN
