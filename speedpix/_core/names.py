"""Names from outside (an output URL, a result's filename) as one plain name, never a path (``..%2F..``)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# Most file systems allow 255 bytes per name: room for the ".<name>.<random>.part" of a download.
MAX_NAME_BYTES = 200
_SEPARATORS = re.compile(r"[/\\]")
# Control characters, and what Windows refuses in a name.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
# Device names that Windows opens instead of a file, whatever the extension.
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL"} | {f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)})


def safe_name(text: str) -> str:
    """``text``'s last segment (``/`` or ``\\``) as a safe name of at most ``MAX_NAME_BYTES``
    (extension kept), or ``""`` when nothing usable is left (or on a NUL anywhere)."""
    name = "" if "\x00" in text else _UNSAFE.sub("_", _SEPARATORS.split(text)[-1]).strip(" .")
    if not name:
        return ""
    if name.split(".", 1)[0].upper() in _RESERVED:
        name = "_" + name
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    suffix = "." + extension if dot and stem and len(extension.encode()) < 16 else ""
    kept = (stem if suffix else name).encode()[: MAX_NAME_BYTES - len(suffix.encode())]
    return kept.decode("utf-8", "ignore").rstrip(" .") + suffix


def url_name(url: str) -> str:
    """The name an output URL suggests (its decoded path's last segment, made safe), or ``""``."""
    try:
        return safe_name(unquote(urlsplit(url).path))
    except ValueError:  # e.g. "http://[::1": no name to take
        return ""


def first_safe_name(*candidates: object) -> str:
    """The first candidate (a string) that :func:`safe_name` keeps, else ``"output"``."""
    names = (safe_name(candidate) for candidate in candidates if isinstance(candidate, str))
    return next(filter(None, names), "output")


def shown_url(url: object, *, path_only: bool = False) -> str:
    """``url`` fit for a message or a log: no credentials, query or fragment (presigned URLs
    carry their signature there); with ``path_only``, its path alone."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<an invalid URL>"
    if path_only:
        return parts.path or "/"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path
