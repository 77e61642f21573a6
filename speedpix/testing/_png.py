"""A tiny PNG encoder, so the demo workflow returns a real image without Pillow."""

from __future__ import annotations

import hashlib
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_rgb(width: int, height: int, rows: list[bytes]) -> bytes:
    """Encode 8-bit RGB rows (``width * 3`` bytes each) as a PNG file."""
    if len(rows) != height or any(len(row) != width * 3 for row in rows):
        raise ValueError("rows do not match the image size")
    # Each scanline starts with its filter type; 0 (None) keeps the encoder trivial.
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")


def draw_prompt(prompt: str, width: int, height: int) -> bytes:
    """A deterministic picture for a prompt: gradients and a checker, colored by its hash.

    Every channel is built with bytes-level operations (slicing, ``translate``) rather
    than per-pixel Python, so even a 2048x2048 image takes a fraction of a second.
    """
    seed = hashlib.sha256(prompt.encode("utf-8")).digest()
    # x scaled to 0..255 across the width: the base ramp every channel is derived from.
    ramp = bytes(x * 256 // width for x in range(width))
    red = ramp.translate(bytes((seed[0] + i) % 256 for i in range(256)))
    tile = 8 + seed[3] % 24
    rows = []
    for y in range(height):
        shade = y * 256 // height
        green = ramp.translate(bytes((seed[1] + (i + shade) // 2) % 256 for i in range(256)))
        checker = (y // tile) % 2
        blue_table = bytes(
            seed[2] if ((i * width // 256) // tile) % 2 == checker else 255 - seed[2] for i in range(256)
        )
        row = bytearray(width * 3)
        row[0::3] = red
        row[1::3] = green
        row[2::3] = ramp.translate(blue_table)
        rows.append(bytes(row))
    return encode_rgb(width, height, rows)
