"""Gateway calls through the generated client's ``sync_detailed``/``asyncio_detailed``
pairs, sent as flow effects, read by :func:`~speedpix._core.replies.interpret`, retried."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec

from speedpix_api.api.files import sp_create_temp_file_upload_sign as upload_sign
from speedpix_api.api.predictions import comfy_get_progress, comfy_get_result, comfy_prompt
from speedpix_api.types import Response

from .._core.effects import Call, CallOutcome, E, Flow, Send, Sleep
from .._core.logging import logger
from .._core.replies import Reply, interpret
from .._core.retry import CallSettings, may_have_run, retry_delay

P = ParamSpec("P")


@dataclass(frozen=True)
class Operation(Generic[P, E]):
    """A generated operation; called with its functions' typed arguments, a :class:`Call`."""

    name: str
    sync_detailed: Callable[P, Response[E]]
    asyncio_detailed: Callable[P, Awaitable[Response[E]]]
    idempotent: bool  # every read, and the upload signature (an unused one expires)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Call[E]:
        return Call(
            self.name,
            self.idempotent,
            lambda: self.sync_detailed(*args, **kwargs),
            lambda: self.asyncio_detailed(*args, **kwargs),
        )


SUBMIT = Operation("comfy_prompt", comfy_prompt.sync_detailed, comfy_prompt.asyncio_detailed, idempotent=False)
PROGRESS = Operation("comfy_get_progress", comfy_get_progress.sync_detailed, comfy_get_progress.asyncio_detailed, True)
RESULT = Operation("comfy_get_result", comfy_get_result.sync_detailed, comfy_get_result.asyncio_detailed, True)
UPLOAD_SIGN = Operation(
    "sp_create_temp_file_upload_sign", upload_sign.sync_detailed, upload_sign.asyncio_detailed, True
)


def api_call(call: Call[E], settings: CallSettings, *, task_id: str | None = None) -> Flow[Reply[E]]:
    """Send ``call`` with retries; return its :class:`Reply` or raise a typed error."""
    attempt = 0
    while True:
        attempt += 1
        outcome: CallOutcome[E] = yield Send(call, settings.attempt_timeout(), settings.deadline, attempt)
        result = interpret(call, outcome, task_id=task_id)
        if isinstance(result, Reply):
            return result
        delay = retry_delay(result, attempt=attempt, idempotent=call.idempotent, policy=settings.retry)
        if delay is None or not settings.allows_sleep(delay):
            if not call.idempotent and may_have_run(result):
                result.message += (
                    " The request may have reached the service, so a task may have been created; it was not "
                    "resubmitted, to avoid paying twice. Check the console or your task list before retrying."
                )
            raise result
        logger.info("retrying %s in %.2f s after: %s", call.name, delay, result)
        yield Sleep(delay)
