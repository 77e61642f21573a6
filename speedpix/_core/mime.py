"""Content types of input files: from the name, else from the leading bytes."""

from __future__ import annotations

import mimetypes

SNIFF_BYTES = 16  # how many leading bytes sniff_content_type reads
# The standard tables give the usual extension of every other type we sniff (.jpg, .mp3…),
# whatever the system adds after them, but know no audio/wav.
_EXTENSIONS = {"audio/wav": ".wav"}


def guess_from_name(name: str | None) -> str | None:
    return mimetypes.guess_type(name, strict=False)[0] if name else None


def sniff_content_type(head: bytes) -> str | None:
    """Recognise PNG, JPEG, WEBP, GIF, MP4, WAV and MP3 by their magic numbers."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def content_type_for(name: str | None, head: bytes) -> str:
    return guess_from_name(name) or sniff_content_type(head) or "application/octet-stream"


def is_media_type(content_type: str | None) -> bool:
    return (content_type or "").split("/", 1)[0] in ("image", "audio", "video")


def extension_for(content_type: str | None) -> str:
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(base) or (base and mimetypes.guess_extension(base, strict=False)) or ""
