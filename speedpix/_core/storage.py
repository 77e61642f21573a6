"""What storage transfers' outcomes mean, one redirect at a time (httpx's would follow https to http)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from .effects import RefusedReply, TransferOutcome
from .errors import FileTransferError, SpeedPixException
from .gateway import transport_error
from .names import shown_url
from .retry import parse_retry_after

#: Redirects followed per attempt; one more is a loop.
MAX_REDIRECTS = 10
# What a successful transfer is. A download must be answered 200 with the file: a 203,
# 204 or 206 has none of it, or not all of it. An upload may be answered 201 or 204.
SUCCESS = {"GET": frozenset({200}), "PUT": frozenset({200, 201, 204})}
# Redirects followed: for an upload, only those that keep the method and the body.
FOLLOWED = {"GET": frozenset({301, 302, 303, 307, 308}), "PUT": frozenset({307, 308})}


def delivers(method: str, status: int) -> bool:
    return status in SUCCESS[method]


def url_problem(url: str | httpx.URL) -> str | None:
    """Why ``url`` cannot be fetched, or None."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as error:
        return f"is not valid ({error})"
    if parsed.scheme not in ("http", "https"):
        return "is not an http(s) URL"
    if not parsed.host:
        return "has no host"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"has no valid port ({parsed.port})"
    return None


def failure(error: Exception, *, what: str, task_id: str | None) -> SpeedPixException:
    if isinstance(error, httpx.RemoteProtocolError) and "location header" in str(error):
        # httpx reads a redirect's Location even when not following it: not worth repeating.
        return FileTransferError(f"{what}: redirected to an invalid URL ({error})", task_id=task_id)
    if isinstance(error, httpx.TransportError):
        return transport_error(error, what=what, task_id=task_id)
    if isinstance(error, RefusedReply):  # an encoding we did not ask for (see _guards)
        return FileTransferError(f"{what}: {error}; nothing was saved.", task_id=task_id)
    if isinstance(error, httpx.DecodingError):
        return FileTransferError(
            f"{what}: the storage server sent a body that does not decode as its Content-Encoding "
            f"header says ({error}); nothing was saved. The file was damaged at its source or on the "
            "way: try again later, and if it persists, the server behind the URL is at fault.",
            task_id=task_id,
        )
    return FileTransferError(f"{what} failed: {type(error).__name__}: {error}", task_id=task_id)


def _redirect(url: str, location: str | None, status: int, hops: int) -> httpx.URL | str:
    """The redirect's target, or why it is not followed."""
    if not location:
        return f"redirected (HTTP {status}) without a Location header."
    try:
        target = httpx.URL(url).join(location)
    except (httpx.InvalidURL, ValueError):
        return f"redirected (HTTP {status}) to an invalid URL."
    if (problem := url_problem(target)) is not None:
        return f"redirected (HTTP {status}) to a URL that {problem}."
    if httpx.URL(url).scheme == "https" and target.scheme == "http":
        return (
            f"refused a redirect from {shown_url(url)} to {shown_url(target)}: it leaves HTTPS for "
            "plain HTTP, where the file could be read or altered on the way. The storage host is "
            "misconfigured; ask for an https link."
        )
    if hops >= MAX_REDIRECTS:
        return (
            f"redirected more than {MAX_REDIRECTS} times (the last from {shown_url(url)} to "
            f"{shown_url(target)}): the storage host sends it round in a loop."
        )
    return target


_CODE = re.compile(rb"<Code>\s*([A-Za-z0-9_.-]{1,64})\s*</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]{1,300})</Message>")


def _storage_detail(body: bytes) -> str:
    """`` (Code: Message)`` from an OSS/S3 error document, else ``""``."""
    code = _CODE.search(body)
    if code is None:
        return ""
    detail = code.group(1).decode()
    message = _MESSAGE.search(body)
    if message is not None:
        text = " ".join(message.group(1).decode("utf-8", "replace").split())
        if text.isprintable():
            detail += f": {text}"
    return f" ({detail})"


def _refusal(method: str, status: int, body: bytes) -> str:
    """Why a response that neither completes nor redirects the transfer failed it."""
    detail = _storage_detail(body)
    if 200 <= status < 300:
        expected = " or ".join(str(s) for s in sorted(SUCCESS[method]))
        return (
            f"storage answered HTTP {status} where a complete transfer is answered {expected}; "
            "nothing was transferred. The server behind the URL is at fault."
        )
    if 300 <= status < 400:
        return f"storage answered a redirect (HTTP {status}) that is not followed."
    if status == 429:
        return f"storage rate limited (HTTP 429){detail}."
    if status >= 500:
        return f"storage error (HTTP {status}){detail}."
    if status == 404 and method == "GET":
        return (
            "not found (HTTP 404). Output URLs are time-limited: download results soon "
            "after the task finishes, or fetch the task again with predictions.get(task_id)."
        )
    return f"refused by storage (HTTP {status}){detail}."


@dataclass
class Route:
    """One transfer's way through redirects: send to ``url``, then :meth:`step`."""

    method: str
    url: str
    what: str
    task_id: str | None = None
    hops: int = 0

    def refusal(self) -> FileTransferError | None:
        """The error to raise instead of sending to ``url``, if it cannot be fetched."""
        problem = url_problem(self.url)
        return None if problem is None else FileTransferError(f"{self.what}: the URL {problem}.", task_id=self.task_id)

    def step(self, outcome: TransferOutcome) -> bool | SpeedPixException:
        """True: done. False: send again, to the redirect's target (now ``url``). Else the error."""
        if outcome.error is not None:
            return failure(outcome.error, what=self.what, task_id=self.task_id)
        response = outcome.response
        assert response is not None
        status = response.status_code
        if delivers(self.method, status):
            return True
        if status not in FOLLOWED[self.method]:
            return FileTransferError(
                f"{self.what}: {_refusal(self.method, status, outcome.body)}",
                status_code=status,
                request_id=response.headers.get("x-oss-request-id") or response.headers.get("x-ca-request-id"),
                retry_after=parse_retry_after(response.headers.get("retry-after")),
                task_id=self.task_id,
            )
        target = _redirect(self.url, response.headers.get("location"), status, self.hops)
        if isinstance(target, str):
            return FileTransferError(f"{self.what}: {target}", status_code=status, task_id=self.task_id)
        self.url, self.hops = str(target), self.hops + 1
        return False
