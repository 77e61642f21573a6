"""Alibaba Cloud API Gateway digest signing (the ``X-Ca-*`` headers), as an ``httpx.Auth``."""

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
# Request extension where the signer leaves its string-to-sign, to explain a signature refusal.
STRING_TO_SIGN_EXTENSION = "speedpix.string_to_sign"


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


def canonical_path(path: str, query: str = "") -> str:
    """The path, plus the query sorted by key (a parameter without a value as its bare key)."""
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
    """The gateway's string-to-sign: one line per parameter (empty ones too), the signed
    headers as ``name:value`` lines sorted by lower-case name, no trailing newline."""
    header_lines = [f"{name.lower()}:{signed_headers[name]}" for name in sorted(signed_headers, key=str.lower)]
    return "\n".join([method.upper(), accept, content_md5, content_type, date, *header_lines, path])


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(epoch_seconds: float) -> str:
    """The ``Date`` header as the official SDKs send it: ``Wed, 09 May 2018 13:30:29 GMT+00:00``.

    By hand: ``strftime`` follows the locale, ``email.utils.formatdate`` costs twice as much."""
    t = time.gmtime(epoch_seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT+00:00"
    )


def new_nonce() -> str:
    """``str(uuid.uuid4())`` at half its cost (no UUID object)."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]  # the RFC 4122 variant bits, 10xx
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


class GatewaySigner(httpx.Auth):
    """Signs each request (and each retry of it, anew) for the SpeedPix API gateway."""

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
        """All headers a signed request needs, and the string-to-sign they were made from
        (``now`` and ``nonce`` pin the timestamp and the nonce, for tests)."""
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
        headers.update({"date": date, "accept": accept, "content-type": content_type})
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
        # Replace httpx's Accept "*/*" and the generated client's "application/json": we signed ours.
        kept = [(name, value) for name, value in request.headers.multi_items() if name not in headers]
        request.headers = httpx.Headers([*kept, *headers.items()])
        request.extensions = {**request.extensions, STRING_TO_SIGN_EXTENSION: to_sign}
        yield request


def signature_headers(*, app_key: str, app_secret: str, **request: object) -> tuple[dict[str, str], str]:
    """:meth:`GatewaySigner.signature_headers` for one request (tests and tools)."""
    return GatewaySigner(app_key, app_secret).signature_headers(**request)  # type: ignore[arg-type]
