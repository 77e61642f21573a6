"""The ``speedpix`` logger: one line per HTTP attempt, never a credential or a URL's query."""

from __future__ import annotations

import functools
import logging
import os

logger = logging.getLogger("speedpix")


@functools.cache
def configure_from_env() -> None:
    """Attach a stderr handler at the level named by ``SPEEDPIX_LOG`` (info or debug), once."""
    level_name = os.environ.get("SPEEDPIX_LOG", "").strip().upper()
    if level_name in ("INFO", "DEBUG"):
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
