"""Alibaba Cloud API Gateway digest signing (the ``X-Ca-*`` headers).

The string-to-sign is built by a pure function so it can be unit-tested against the
gateway's documented layout; :class:`GatewaySigner` applies it to each outgoing
request as an ``httpx.Auth``, over the exact body bytes that go on the wire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Generator, Mapping
from urllib.parse import parse_qsl

import httpx

JSON_MEDIA_TYPE = "application/json; charset=utf-8"
SIGNATURE_METHOD = "HmacSHA256"
# The x-ca-* headers covered by the signature, in the order the official SDKs list them.
SIGNED_HEADER_NAMES = ("x-ca-timestamp", "x-ca-key", "x-ca-nonce", "x-ca-signature-method")
# Request extension under which the signer leaves its string-to-sign, so that a
# signature refusal can be explained by comparing it with the server's.
STRING_TO_SIGN_EXTENSION = "speedpix.string_to_sign"


def content_md5(body: bytes) -> str:
    """Base64 of the MD5 digest of ``body``: the ``Content-MD5`` header value."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


def canonical_path(path: str, query: str = "") -> str:
    """The path line of the string-to-sign: the path, plus the query sorted by key.

    A parameter without a value is written as its bare key, as the gateway does.
    """
    if not query:
        return path
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return path + "?" + "&".join(f"{key}={value}" if value else key for key, value in pairs)


def string_to_sign(
    method: str,
    accept: str,
    content_md5: str,
    content_type: str,
    date: str,
    signed_headers: Mapping[str, str],
    path: str,
) -> str:
    """Build the gateway's string-to-sign: its lines, in the order of the parameters.

    Joined with ``\\n``, no trailing newline: the upper-case method, Accept, Content-MD5,
    Content-Type and Date (each may be empty but still takes a line), then one
    ``name:value`` line per signed ``x-ca-*`` header sorted by lower-case name, then the
    path with its sorted query string.
    """
    header_lines = [f"{name.lower()}:{signed_headers[name]}" for name in sorted(signed_headers, key=str.lower)]
    return "\n".join([method.upper(), accept, content_md5, content_type, date, *header_lines, path])


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(epoch_seconds: float) -> str:
    """The ``Date`` header in the form the official SDKs send: ``Wed, 09 May 2018 13:30:29 GMT+00:00``.

    Formatted by hand: ``strftime``'s day and month names follow the locale, and
    ``email.utils.formatdate`` costs several times as much.
    """
    t = time.gmtime(epoch_seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT+00:00"
    )


def new_nonce() -> str:
    """A random UUID version 4 in its usual text form, as ``str(uuid.uuid4())`` makes, at a
    quarter of its cost (no UUID object)."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]  # the RFC 4122 variant bits, 10xx
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


class GatewaySigner(httpx.Auth):
    """Signs each request (and each retry of it, anew) for the SpeedPix API gateway.

    Used as the ``auth`` of ``client.api``'s httpx client; the façade calls
    :meth:`signature_headers` itself, as it builds its requests whole.
    """

    requires_request_body = True

    def __init__(self, app_key: str, app_secret: str) -> None:
        self.app_key = app_key
        # Keyed once: each signature copies it instead of hashing the key again.
        self._mac = hmac.new(app_secret.encode("utf-8"), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return f"GatewaySigner(app_key={self.app_key!r}, app_secret=<hidden>)"

    def signature_headers(
        self,
        *,
        method: str,
        url_path: str,
        url_query: str,
        body: bytes,
        accept: str = JSON_MEDIA_TYPE,
        content_type: str = JSON_MEDIA_TYPE,
        now: float | None = None,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], str]:
        """All headers a signed request needs, and the string-to-sign they were made from.

        ``now`` and ``nonce`` are parameters only so tests can pin them; by default every
        call gets a fresh timestamp and a fresh UUID4 nonce (the gateway refuses a nonce it
        has seen within 15 minutes).
        """
        now = time.time() if now is None else now
        headers = {
            "x-ca-key": self.app_key,
            "x-ca-timestamp": str(int(now * 1000)),
            "x-ca-nonce": nonce or new_nonce(),
            "x-ca-signature-method": SIGNATURE_METHOD,
        }
        md5 = content_md5(body) if body else ""
        date = http_date(now)
        to_sign = string_to_sign(method, accept, md5, content_type, date, headers, canonical_path(url_path, url_query))
        mac = self._mac.copy()
        mac.update(to_sign.encode("utf-8"))
        headers["x-ca-signature-headers"] = ",".join(SIGNED_HEADER_NAMES)
        headers["x-ca-signature"] = base64.b64encode(mac.digest()).decode("ascii")
        headers["date"] = date
        headers["accept"] = accept
        headers["content-type"] = content_type
        if md5:
            headers["content-md5"] = md5
        return headers, to_sign

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        headers, to_sign = self.signature_headers(
            method=request.method,
            url_path=request.url.path,
            url_query=request.url.query.decode("ascii"),
            body=request.content,
        )
        # Replace whatever httpx put there: its default Accept "*/*" and the generated
        # client's bare "application/json" would not match what we signed. One new
        # Headers, not update(): that scans every header once per header it sets.
        kept = [(name, value) for name, value in request.headers.multi_items() if name not in headers]
        request.headers = httpx.Headers([*kept, *headers.items()])
        request.extensions = {**request.extensions, STRING_TO_SIGN_EXTENSION: to_sign}
        yield request


def signature_headers(*, app_key: str, app_secret: str, **request: object) -> tuple[dict[str, str], str]:
    """:meth:`GatewaySigner.signature_headers` for one request (tests and tools)."""
    return GatewaySigner(app_key, app_secret).signature_headers(**request)  # type: ignore[arg-type]
