"""Deterministic faults: "the next N requests to path P get fault K"."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ._moderation import AUDIT_FAILED_MESSAGE

# Each kind and the parameters it accepts, with their defaults.
FAULT_KINDS: dict[str, dict[str, Any]] = {
    # An HTTP error from the gateway or a proxy in front of it.
    "http_error": {"status": 503, "retry_after": None, "body": "Service Unavailable"},
    # The API gateway's own throttling (HTTP 403).
    "throttle": {"retry_after": None},
    # The business gateway's rate limit (HTTP 200, envelope status 20).
    "flow_control": {"detail": "QPS limit exceeded"},
    # The business gateway's content-security refusal (HTTP 200, envelope status 20,
    # B_API_AuditFailed), whatever the inputs are.
    "moderation": {"message": AUDIT_FAILED_MESSAGE},
    # Wait ``delay`` seconds, then handle the request normally.
    "slow": {"delay": 1.0},
    # Close the connection without a response, before handling the request.
    "drop_before": {},
    # Handle the request (a comfy_prompt creates its task), then close without a response.
    "drop_after": {},
    # Handle the request, then send its JSON body cut in half.
    "malformed_json": {},
    # An nginx/Tengine HTML error page from a proxy.
    "html_error": {"status": 502},
    # 404, as for a path that does not exist.
    "not_found": {},
}


@dataclass(slots=True)
class Fault:
    pattern: str
    kind: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, path: str) -> bool:
        if self.pattern.endswith("*"):
            return path.startswith(self.pattern[:-1])
        return path == self.pattern


class FaultQueue:
    """Pending faults in injection order; the first matching one is consumed."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, pattern: str, kind: str, count: int = 1, **params: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        unknown = set(params) - set(FAULT_KINDS[kind])
        if unknown:
            raise TypeError(f"fault {kind!r} takes no parameter(s) {', '.join(sorted(unknown))}")
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        if not pattern.startswith("/"):
            raise ValueError("a fault path starts with '/' (e.g. '/scc/comfy_prompt' or '/storage/*')")
        fault = Fault(pattern, kind, count, {**FAULT_KINDS[kind], **params})
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        # Checked on every request: keep the common "no faults" case to one test.
        if not self._faults:
            return None
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        del self._faults[index]
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
