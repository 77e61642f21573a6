"""File names that come from outside: one rule for every name the SDK saves under.

An output URL's last path segment, a result's ``filename``, an output key: the service
(or whoever controls an output URL) chooses them. Each must become one plain file name
inside the folder the caller gave, never a path: ``..%2F..%2Fx.png``, ``/tmp/x.png``
or ``..`` must not reach outside it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

#: The name used when nothing usable is left of the candidates.
FALLBACK_NAME = "output"
# Most file systems allow 255 bytes per name; keep room for the ".<name>.<random>.part"
# temporary file a download is written to first.
MAX_NAME_BYTES = 200
_MAX_EXTENSION_BYTES = 16

_SEPARATORS = re.compile(r"[/\\]")
# Control characters, and what Windows refuses in a name.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
# Device names that Windows opens instead of a file, whatever the extension.
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL"} | {f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)})


def safe_name(text: str) -> str:
    """``text`` as a single file name, or ``""`` when nothing usable is left.

    The last segment (``/`` and ``\\`` both separate), with unsafe characters replaced
    by ``_``, without leading or trailing dots and spaces (so no ``.``, ``..`` or hidden
    file), at most ``MAX_NAME_BYTES`` bytes of UTF-8 (the extension kept). A NUL
    anywhere refuses the whole text: it is never part of a genuine name.
    """
    if "\x00" in text:
        return ""
    name = _UNSAFE.sub("_", _SEPARATORS.split(text)[-1]).strip(" .")
    if not name:
        return ""
    if name.split(".", 1)[0].upper() in _RESERVED:
        name = "_" + name
    return _shortened(name)


def _shortened(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    suffix = "." + extension if dot and stem and len(extension.encode()) < _MAX_EXTENSION_BYTES else ""
    if not suffix:
        stem = name
    kept = stem.encode()[: MAX_NAME_BYTES - len(suffix.encode())].decode("utf-8", "ignore")
    return kept.rstrip(" .") + suffix


def url_name(url: str) -> str:
    """The name an output URL suggests: the last segment of its percent-decoded path,
    made safe, or ``""``."""
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. "http://[::1": no name to take
        return ""
    return safe_name(unquote(path))


def first_safe_name(*candidates: object) -> str:
    """The first candidate (a string) that :func:`safe_name` keeps, else ``FALLBACK_NAME``."""
    for candidate in candidates:
        if isinstance(candidate, str) and (name := safe_name(candidate)):
            return name
    return FALLBACK_NAME


def shown_url(url: object, *, path_only: bool = False) -> str:
    """``url`` fit for a message or a log line: no credentials, no query (presigned URLs
    carry their signature there), no fragment; with ``path_only``, its path alone. The
    one redaction of URLs in the SDK."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<an invalid URL>"
    if path_only:
        return parts.path or "/"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path
