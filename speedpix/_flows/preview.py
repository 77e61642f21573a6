"""How outputs show in Jupyter (``_repr_*_``, ``speedpix.show``): images fetched once, capped, with
alt text; videos and audio as players, never fetched; a failure as a note (never raised).
No ``_repr_mimebundle_``: terminal IPython would call it, downloading the file to print its URL."""

from __future__ import annotations

import base64
import html
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

from .._core.effects import Blocking, Flow
from .._core.images import open_image, pillow
from .._core.mime import guess_from_name, sniff_content_type
from .._core.names import shown_url

if TYPE_CHECKING:
    from PIL.Image import Image

    from .outputs import FileNode, FileOutput

MAX_INLINE_BYTES: Final = 10 * 1024 * 1024
#: How long a failed fetch is remembered (so one display does not try once per formatter).
FAILURE_TTL: Final = 5.0
_CHUNK: Final = 64 * 1024
# Image types every browser shows in an <img>; others (TIFF…) get the note instead.
_BROWSER_IMAGES: Final = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml", "image/bmp", "image/avif"}
)


@dataclass(frozen=True)
class Fetched:
    """One GET of an output: its bytes (if whole and within ``cap``), their sniffed type, or why none."""

    data: bytes | None
    sniffed: str | None
    cap: int
    reason: str | None = None
    failed_at: float | None = None  # a failure (not a decision), when it happened


@dataclass(frozen=True)
class Preview:
    """What a file displays as: ``kind`` is ``image``, ``video``, ``audio`` or ``note``."""

    kind: str
    url: str
    name: str
    content_type: str | None = None
    data: bytes | None = None
    reason: str | None = None
    failed: bool = False  # the file could not be fetched
    task_id: str | None = None

    def png(self) -> bytes | None:
        return self.data if self.kind == "image" and self.content_type == "image/png" else None

    def jpeg(self) -> bytes | None:
        return self.data if self.kind == "image" and self.content_type == "image/jpeg" else None

    def html(self) -> str:
        """An ``<img>`` with the file name as ``alt`` and ``title``, a player, or a note with the link."""
        url, name = html.escape(self.url, quote=True), html.escape(shown_name(self.name, self.url), quote=True)
        if self.kind == "image" and self.data is not None:
            encoded = base64.b64encode(self.data).decode("ascii")
            return (
                f'<img src="data:{html.escape(self.content_type or "image/png", quote=True)};base64,{encoded}" '
                f'alt="{name}" title="{name}" style="max-width:100%;height:auto"/>'
            )
        if self.kind in ("video", "audio"):
            player = (
                f'<{self.kind} controls preload="metadata" src="{url}" style="max-width:100%"></{self.kind}>'
                f'<div style="font-size:85%;opacity:.75">{name} · streamed from its link, which expires: '
                "<code>.save()</code> it to keep it</div>"
            )
            return f'<div class="speedpix-{self.kind}">{player}</div>'
        reason = html.escape(self.reason or "not shown inline")
        shown = html.escape(shown_url(self.url))
        if not self.failed:
            advice = "the link expires; <code>.save()</code> the file to keep it"
        elif self.task_id:
            again = html.escape(f"client.predictions.get({self.task_id!r})")
            advice = f"for fresh links, fetch the task again: <code>{again}</code>"
        else:
            advice = "its link may have expired"
        return (
            f'<div class="speedpix-note" style="font-size:90%;overflow-wrap:anywhere">'
            f'<a href="{url}" target="_blank" rel="noopener noreferrer">{shown}</a><br/>'
            f'<span style="opacity:.75">{reason} ({advice})</span>'
            "</div>"
        )


def shown_name(name: str, url: str) -> str:
    """``name`` for people (alt text, captions, notes) without ``url``'s query (its signature)."""
    query = urlsplit(url).query
    if query:
        name = name.replace(query, "…")
    return name.strip() or "output"


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB"
    return f"{count / 1024:.0f} KB" if count >= 1024 else f"{count} bytes"


def type_hint(url: str, node: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(content_type, kind)`` from the node's ``filename``, the URL's path, ``format``, then ``type``."""
    fmt = node.get("format")
    names = [
        node.get("filename"),
        urlsplit(url).path,
        f"file.{fmt}" if isinstance(fmt, str) and fmt.isalnum() else None,
    ]
    for name in names:
        guessed = guess_from_name(name) if isinstance(name, str) else None
        if guessed:
            return guessed, guessed.split("/", 1)[0]
    declared = node.get("type")
    return None, (declared if declared in ("image", "video", "audio") else None)


def _fetch(file: FileOutput, cap: int) -> Fetched:
    """GET at most ``cap`` bytes, stopping when the first bytes say video or audio. Never raises."""
    buffer = bytearray()
    sniffed: str | None = None
    chunks: Iterator[bytes] = file.iter_bytes(_CHUNK)
    try:
        for chunk in chunks:
            if not buffer:
                sniffed = sniff_content_type(chunk)
                if sniffed is not None and sniffed.split("/", 1)[0] in ("video", "audio"):
                    return Fetched(None, sniffed, cap, reason=f"a {sniffed} file")
            buffer += chunk
            if len(buffer) > cap:
                return Fetched(None, sniffed, cap, reason=f"larger than {_size(cap)}: not shown inline")
    except Exception as error:  # display must never raise into the notebook
        message = shown_name((str(error) or type(error).__name__).replace(file.url, shown_url(file.url)), file.url)
        return Fetched(None, None, cap, reason=f"could not fetch it: {message}", failed_at=time.monotonic())
    finally:
        getattr(chunks, "close", lambda: None)()  # ends the download when we stopped early
    return Fetched(bytes(buffer), sniffed, cap)


# Fetches by id() of their holder, dropped when it is collected: off the objects
# themselves, so pickles and copies of outputs never carry the bytes.
_FETCHED: dict[int, Fetched] = {}


def fetched(file: FileOutput, holder: object, cap: int) -> Fetched:
    """The fetch of ``file``, made once and kept for ``holder`` (a FileOutput or FileNode)."""
    key = id(holder)
    cached = _FETCHED.get(key)
    if cached is not None:
        fresh_failure = cached.failed_at is not None and time.monotonic() - cached.failed_at < FAILURE_TTL
        if fresh_failure or (cached.failed_at is None and (cached.data is not None or cached.cap >= cap)):
            return cached
    result = _fetch(file, cap)
    if cached is None:
        try:
            weakref.finalize(holder, _FETCHED.pop, key, None)
        except TypeError:  # not weak-referenceable: not cached
            return result
    _FETCHED[key] = result
    return result


def preview(obj: FileOutput | FileNode, *, max_bytes: int = MAX_INLINE_BYTES) -> Preview:
    """What ``obj`` displays as, fetching it when it may be an image."""
    node: dict[str, Any] = obj if isinstance(obj, dict) else {}
    file = obj.file
    # Keep the bytes on the URL's FileOutput when there is one: node and URL share them.
    holder = file if file is node.get("url", file) else obj
    url = file.url
    name = node.get("filename")
    if not isinstance(name, str):
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "output"
    hinted, kind = type_hint(url, node)
    if kind in ("video", "audio"):
        return Preview(kind, url, name, hinted)
    result = fetched(file, holder, max_bytes)
    if result.data is None:
        sniffed_kind = result.sniffed.split("/", 1)[0] if result.sniffed else None  # None after a failure
        if sniffed_kind in ("video", "audio"):
            return Preview(sniffed_kind, url, name, result.sniffed)
        failed = result.failed_at is not None
        return Preview("note", url, name, hinted, reason=result.reason, failed=failed, task_id=file.task_id)
    if len(result.data) > max_bytes:
        return Preview("note", url, name, hinted, reason=f"larger than {_size(max_bytes)}: not shown inline")
    content_type = result.sniffed or hinted
    if content_type in _BROWSER_IMAGES:
        return Preview("image", url, name, content_type, result.data)
    if content_type and content_type.startswith("image/"):
        reason = f"a {content_type} image, which browsers do not show inline"
    else:
        reason = f"not an image, video or audio file ({content_type or 'unknown type'}, {_size(len(result.data))})"
    return Preview("note", url, name, content_type, reason=reason)


# ---------------------------------------------------------------- PIL images


def pil_flow(file: FileOutput, read: Flow[bytes]) -> Flow[Image]:
    """``to_pil()``: the bytes a display fetched, else ``read``'s, decoded."""
    pillow()  # before downloading: a missing extra is said at once
    cached = _FETCHED.get(id(file))  # the bytes a display already fetched whole
    data = cached.data if cached is not None else None
    if data is None:
        data = yield from read
    # Decoding is CPU work: off the event loop.
    image: Image = yield Blocking(lambda: open_image(data, file.filename))
    return image
