"""The emulator's object storage: presigned upload URLs, stored files, output URLs.

It stands in for the OSS bucket behind SpeedPix. URLs are "presigned" with an HMAC of
the emulator's own making (the verb, the Content-Type for uploads, the expiry and the
key), so a tampered or expired URL is refused like OSS refuses it. File contents live
on disk in a private temporary directory, or are generated on the fly, so large files
never sit in memory.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import random
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

UPLOAD_PREFIX = "/storage/upload/"
FILES_PREFIX = "/storage/files/"
UPLOAD_URL_TTL_S = 3600
# What an upload URL signed without a size accepts: OSS's limit for one PutObject.
MAX_UPLOAD_SIZE = 5 * 1024**3
DOWNLOAD_URL_TTL_S = 24 * 3600
READ_CHUNK = 256 * 1024
# Generated content is produced in fixed blocks, each seeded from the key and its
# index, so the bytes never depend on how a reader happens to chunk them.
GENERATED_BLOCK = 64 * 1024

_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    content_type: str
    filename: str
    size: int
    path: str | None = None  # on disk; None for generated content
    generated: bool = False


@dataclass(frozen=True, slots=True)
class StorageError:
    """An OSS-style refusal: HTTP status, error code and message (sent as XML)."""

    status: int
    code: str
    message: str


def safe_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", base).strip("._")[-100:]
    return cleaned or "file"


def generated_bytes(key: str, size: int, start_block: int = 0) -> Iterator[bytes]:
    """Deterministic pseudo-random content of ``size`` bytes, one block at a time."""
    remaining = size - start_block * GENERATED_BLOCK
    block = start_block
    while remaining > 0:
        n = min(GENERATED_BLOCK, remaining)
        yield random.Random(f"{key}:{block}").randbytes(n)
        remaining -= n
        block += 1


class Storage:
    """Files by object key, and the URLs that reach them.

    Mutated from the event loop (uploads) and from worker threads running workflow
    callables (outputs), hence the lock around the index.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.endpoint = ""  # set once the server's port is known
        self._secret = secrets.token_bytes(32)
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    # -- URLs -------------------------------------------------------------------------

    def _signature(self, verb: str, key: str, content_type: str, expires: int, max_size: str = "") -> str:
        message = f"{verb}\n{content_type}\n{expires}\n/{key}" + (f"\n{max_size}" if max_size else "")
        digest = hmac.new(self._secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode("ascii")

    def _url(self, prefix: str, verb: str, key: str, content_type: str, expires: int, max_size: str = "") -> str:
        signature = self._signature(verb, key, content_type, expires, max_size)
        size = f"&MaxSize={max_size}" if max_size else ""
        return f"{self.endpoint}{prefix}{quote(key)}?Expires={expires}{size}&Signature={signature}"

    def sign_upload(
        self, original_filename: str, content_type: str, now: float, size: int | None = None
    ) -> dict[str, object]:
        """The ``data`` of ``sp_create_temp_file_upload_sign``. The upload URL is signed
        for at most ``size`` bytes (``MAX_UPLOAD_SIZE`` when not given), as a storage
        service's upload policy would bind it."""
        key = f"temp/{uuid.uuid4().hex}/{safe_filename(original_filename)}"
        expires = int(now) + UPLOAD_URL_TTL_S
        max_size = str(MAX_UPLOAD_SIZE if size is None else size)
        return {
            "uploadUrl": self._url(UPLOAD_PREFIX, "PUT", key, content_type, expires, max_size),
            "accessUrl": self._url(FILES_PREFIX, "GET", key, "", int(now) + DOWNLOAD_URL_TTL_S),
            "objectKey": key,
            "path": f"speedpix-emulator/{key}",
            "expireTime": expires * 1000,
        }

    def download_url(self, key: str, now: float) -> str:
        return self._url(FILES_PREFIX, "GET", key, "", int(now) + DOWNLOAD_URL_TTL_S)

    def check(self, verb: str, key: str, query: str, content_type: str, now: float) -> StorageError | None:
        """Verify a presigned URL the way OSS does: signature (which covers the
        Content-Type of an upload), then expiry."""
        params = parse_qs(query)
        expires_values = params.get("Expires", [""])
        signature = params.get("Signature", [""])[0]
        if not expires_values[0].isdigit() or not signature:
            return StorageError(403, "AccessDenied", "Missing Expires or Signature in the URL.")
        expires = int(expires_values[0])
        max_size = params.get("MaxSize", [""])[0] if verb == "PUT" else ""
        expected = self._signature(verb, key, content_type, expires, max_size)
        if not hmac.compare_digest(expected, signature):
            message = "The request signature we calculated does not match the signature you provided."
            if verb == "PUT":
                message += f" The Content-Type must be the one that was signed; got {content_type!r}."
            return StorageError(403, "SignatureDoesNotMatch", message)
        if now > expires:
            return StorageError(403, "AccessDenied", "Request has expired.")
        return None

    @staticmethod
    def upload_limit(query: str) -> int:
        """The most bytes an upload URL (already :meth:`check`-ed) accepts."""
        value = parse_qs(query).get("MaxSize", [""])[0]
        return int(value) if value.isdigit() else MAX_UPLOAD_SIZE

    @staticmethod
    def key_from_path(path: str, prefix: str) -> str:
        return unquote(path[len(prefix) :])

    def key_from_url(self, url: str) -> str | None:
        """The object key of a URL pointing at this emulator's files, else ``None``."""
        parts = urlsplit(url)
        if not parts.path.startswith(FILES_PREFIX):
            return None
        if self.endpoint and f"{parts.scheme}://{parts.netloc}" != self.endpoint:
            return None
        return self.key_from_path(parts.path, FILES_PREFIX)

    # -- files ------------------------------------------------------------------------

    def new_disk_path(self) -> str:
        # Files are named by a random id, never by their key: keys come from clients.
        return os.path.join(self.root, uuid.uuid4().hex)

    def add(self, stored: StoredFile) -> None:
        with self._lock:
            old = self._files.get(stored.key)
            self._files[stored.key] = stored
        if old is not None and old.path is not None and old.path != stored.path:
            _remove_quietly(old.path)

    def get(self, key: str) -> StoredFile | None:
        return self._files.get(key)

    def store_bytes(self, key: str, data: bytes, content_type: str, filename: str) -> StoredFile:
        path = self.new_disk_path()
        with open(path, "wb") as file:
            file.write(data)
        stored = StoredFile(key, content_type, filename, len(data), path)
        self.add(stored)
        return stored

    def store_generated(self, key: str, size: int, content_type: str, filename: str) -> StoredFile:
        stored = StoredFile(key, content_type, filename, size, generated=True)
        self.add(stored)
        return stored

    def iter_content(self, stored: StoredFile) -> Iterator[bytes]:
        if stored.generated:
            yield from generated_bytes(stored.key, stored.size)
            return
        assert stored.path is not None
        with open(stored.path, "rb") as file:
            while chunk := file.read(READ_CHUNK):
                yield chunk

    def read(self, stored: StoredFile) -> bytes:
        return b"".join(self.iter_content(stored))

    def __len__(self) -> int:
        return len(self._files)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
