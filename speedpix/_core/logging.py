"""The ``speedpix`` logger: one line per HTTP attempt, never a credential.

``SPEEDPIX_LOG=info`` (or ``debug``) in the environment turns it on without code.
Lines name the method, the path (never the query: presigned storage URLs carry their
signature there), the status, the duration, the attempt number and the request id.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("speedpix")
_configured = False


def configure_from_env() -> None:
    """Attach a stderr handler at the level named by ``SPEEDPIX_LOG``, once."""
    global _configured
    if _configured:
        return
    _configured = True
    level_name = os.environ.get("SPEEDPIX_LOG", "").strip().upper()
    if level_name not in ("INFO", "DEBUG"):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level_name)


def log_attempt(
    *,
    method: str,
    path: str,
    attempt: int,
    duration: float,
    status: int | None,
    request_id: str | None,
    error: BaseException | None = None,
) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    outcome = str(status) if status is not None else f"error={type(error).__name__}"
    logger.info(
        "%s %s -> %s in %.0f ms (attempt %d, request_id=%s)",
        method,
        path,
        outcome,
        duration * 1000,
        attempt,
        request_id or "-",
    )
