"""What the Alibaba Cloud API gateway checks before a request reaches SpeedPix.

Pure functions over the request as received (method, path, query, headers, raw body)
so every refusal rule can be unit-tested without a server. The string-to-sign is
rebuilt here independently of ``speedpix._core.signing``: the emulator must follow the
gateway's rules, not the client's, or a client bug would sign and verify the same
wrong string and go unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

# The gateway's anti-replay window, for both the timestamp and the nonce memory.
REPLAY_WINDOW_MS = 15 * 60 * 1000

# Headers that already have their own line in the string-to-sign (or are the
# signature itself), so the gateway never repeats them among the signed headers.
_NOT_IN_HEADER_LINES = frozenset(
    {"accept", "content-md5", "content-type", "date", "x-ca-signature", "x-ca-signature-headers"}
)

_DIGESTS = {"HmacSHA256": hashlib.sha256, "HmacSHA1": hashlib.sha1}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A gateway refusal: an HTTP status and the ``X-Ca-Error-Message`` header."""

    status: int
    message: str


def server_string_to_sign(
    method: str, path: str, query: str, headers: Mapping[str, str], signed_header_names: list[str]
) -> str:
    """The string-to-sign as the gateway builds it from what it received.

    Lines joined with ``\\n``: upper-case method, Accept, Content-MD5, Content-Type and
    Date as received (an absent header is an empty line), one ``name:value`` line per
    header listed in ``X-Ca-Signature-Headers`` sorted by lower-case name, then the
    path with its query parameters sorted by key (a parameter without a value is its
    bare key). ``headers`` must have lower-case names.
    """
    lines = [
        method.upper(),
        headers.get("accept", ""),
        headers.get("content-md5", ""),
        headers.get("content-type", ""),
        headers.get("date", ""),
    ]
    for name in sorted({n for n in signed_header_names if n not in _NOT_IN_HEADER_LINES}):
        lines.append(f"{name}:{headers.get(name, '')}")
    lines.append(_path_line(path, query))
    return "\n".join(lines)


def _path_line(path: str, query: str) -> str:
    if not query:
        return path
    # Sort by key only (a stable sort keeps repeated keys in their received order).
    pairs = sorted(parse_qsl(query, keep_blank_values=True), key=lambda pair: pair[0])
    return path + "?" + "&".join(f"{key}={value}" if value else key for key, value in pairs)


def sign(secret: str, string_to_sign: str, method: str = "HmacSHA256") -> str:
    digest = hmac.new(secret.encode(), string_to_sign.encode(), _DIGESTS[method]).digest()
    return base64.b64encode(digest).decode("ascii")


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


class NonceCache:
    """Nonces seen in the last 15 minutes, per app key.

    Insertion order is time order (timestamps only grow), so expired entries are
    always at the front and pruning is cheap.
    """

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, app_key: str, nonce: str, now_ms: int) -> bool:
        self._prune(now_ms)
        return (app_key, nonce) in self._seen

    def remember(self, app_key: str, nonce: str, now_ms: int) -> None:
        self._seen[(app_key, nonce)] = now_ms + REPLAY_WINDOW_MS

    def clear(self) -> None:
        self._seen.clear()

    def _prune(self, now_ms: int) -> None:
        seen = self._seen
        while seen:
            key, expires = next(iter(seen.items()))
            if expires > now_ms:
                break
            del seen[key]


def verify(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    now_ms: int,
    secrets: Mapping[str, str],
    nonces: NonceCache,
) -> Refusal | None:
    """Check a request the way the gateway does; ``None`` means it passes.

    The order follows the gateway's: identify the app, check the request is fresh,
    check the signature, then the body digest, and only then burn the nonce, so a
    refused request never uses up its nonce.
    """
    app_key = headers.get("x-ca-key", "")
    if not app_key:
        return Refusal(400, "Empty AppKey: the X-Ca-Key header is missing")
    secret = secrets.get(app_key)
    if secret is None:
        return Refusal(403, "Invalid AppKey")
    signature = headers.get("x-ca-signature", "")
    if not signature:
        return Refusal(400, "Empty Signature: the X-Ca-Signature header is missing")
    signature_method = headers.get("x-ca-signature-method", "HmacSHA256")
    if signature_method not in _DIGESTS:
        return Refusal(400, f"Invalid Signature Method: {signature_method}")

    # The real gateway treats X-Ca-Timestamp and X-Ca-Nonce as optional; the emulator
    # requires them because every SpeedPix SDK sends both, so losing one is a bug.
    timestamp = headers.get("x-ca-timestamp", "")
    if not timestamp:
        return Refusal(400, "Invalid Timestamp: the X-Ca-Timestamp header is missing")
    if not timestamp.isdigit() or abs(now_ms - int(timestamp)) > REPLAY_WINDOW_MS:
        return Refusal(400, "Invalid Timestamp")
    nonce = headers.get("x-ca-nonce", "")
    if not nonce:
        return Refusal(400, "Invalid Nonce: the X-Ca-Nonce header is missing")

    signed_names = [
        name.strip().lower() for name in headers.get("x-ca-signature-headers", "").split(",") if name.strip()
    ]
    expected = server_string_to_sign(method, path, query, headers, signed_names)
    if not hmac.compare_digest(sign(secret, expected, signature_method), signature):
        # The gateway echoes its string-to-sign with '#' for each newline, so the
        # caller can diff it against their own.
        return Refusal(400, "Invalid Signature, Server StringToSign:" + expected.replace("\n", "#"))

    md5 = headers.get("content-md5")
    if md5 is not None and not hmac.compare_digest(md5, content_md5(body)):
        return Refusal(400, "Invalid Content-MD5")

    if nonces.seen(app_key, nonce, now_ms):
        return Refusal(400, "Nonce Used")
    nonces.remember(app_key, nonce, now_ms)
    return None
