"""A task: :class:`Prediction` and the flows that follow it to its end (reload, wait).
The API has no cancel endpoint and no webhooks: polling is the only way to follow a task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from speedpix_api.models import (
    ComfyProgressData,
    ComfyProgressResponse,
    ComfyResultData,
    ComfyResultResponse,
    TaskIdRequest,
)

from .._core import validate
from .._core.effects import Flow, Notify, Sleep
from .._core.errors import APIError, APITimeoutError, PredictionTimeoutError
from .._core.polling import PollState, estimate_confirmed, next_poll
from .._core.replies import TERMINAL_STATUSES, Reply, normalise_status, present, value_of
from .._core.retry import CallSettings, describes_task
from .._core.twins import sync_and_async
from .calls import PROGRESS, RESULT, api_call
from .handle import Handle
from .outputs import wrap_output

# How a task's status reads in a sentence.
_STATE_WORDS: Final = {"waiting": "queued", "running": "running", "unknown": "of unknown status"}

ProgressCallback = Callable[["Prediction"], Any]


def _datetime_ms(value: Any) -> datetime | None:
    value = value_of(value)  # checked by replies.timestamp_ms
    return datetime.fromtimestamp(value / 1000, UTC) if value else None


class Prediction:
    """A workflow task. ``id`` is the server's task id; ``predictions.get(id)`` resumes it."""

    def __init__(
        self,
        handle: Handle,
        id: str,
        *,
        status: str = "waiting",
        estimated_duration: float | None = None,
        invoke_id: str | None = None,
        answered_at: float | None = None,
        workflow_id: str | None = None,
    ) -> None:
        self._handle = handle
        self._workflow_id = workflow_id  # whose estimates this task's polls confirm (EstimateTrust)
        self.id = id
        self.status = normalise_status(status)
        self.progress: float | None = None
        #: Seconds the server expects the task still needs.
        self.eta: float | None = estimated_duration
        self.estimated_duration = estimated_duration
        #: Tasks ahead of this one in the queue (while ``status == "waiting"``).
        self.queue_position: int | None = None
        self.message: str | None = None
        self.node: dict[str, Any] | None = None
        self.output: Any = None
        self.images: Any = None
        self.error: str | None = None
        self.error_code: str | None = None
        self.invoke_id = invoke_id
        #: The last progress and result data as the generated client parsed them: every
        #: field of the spec, including ones this class has no attribute for.
        self.progress_data: ComfyProgressData | None = None
        self.result_data: ComfyResultData | None = None
        self.started_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.duration_ms: int | None = None
        # When the server answered the submission (time.monotonic()): its estimates count from then.
        self._answered_at = self._observed_at = self._created_at = answered_at or time.monotonic()
        self._eta_elapsed: float | None = None  # seconds from creation to the last ETA
        self._running_since: float | None = None
        # The last progress seen while running, as (time, progress), and the progress rate
        # (per second) measured between the last two such sightings.
        self._running_sample: tuple[float, float] | None = None
        self._progress_rate: float | None = None
        self._aim_at_result = True  # see _finish_flow

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def __repr__(self) -> str:
        parts = [f"id={self.id!r}", f"status={self.status!r}"]
        if self.progress is not None and not self.done:
            parts.append(f"progress={self.progress:.0%}")
        if self.error:
            parts.append(f"error={self.error!r}")
        return f"Prediction({', '.join(parts)})"

    def _apply_progress(self, reply: Reply[ComfyProgressResponse]) -> bool:
        """Take in a progress answer; True when status, progress or queue position changed."""
        data = self.progress_data = present(reply.envelope.data)
        before = (self.status, self.progress, self.queue_position)
        now = self._answered_at = reply.answered_at or time.monotonic()
        self.status = normalise_status(data.status)
        # Values checked (and progress clamped into 0..1) by replies.interpret.
        progress = value_of(data.progress)
        self.progress = self.progress if progress is None else progress
        self.eta = value_of(data.eta_relative)
        self._eta_elapsed = now - self._created_at
        self.queue_position = value_of(data.last_queue_remaining) if self.status == "waiting" else None
        self.message = value_of(data.message)
        state = value_of(data.state)
        self.node = state.to_dict() if state is not None else None
        if self.status == "waiting":
            self._running_since = None
            self._observed_at = now
        if self.status == "running" and self.progress is not None:
            if self._running_sample is not None:
                then, before_progress = self._running_sample
                if now > then and self.progress > before_progress:
                    self._progress_rate = (self.progress - before_progress) / (now - then)
            self._running_sample = (now, self.progress)
        if self.status == "running" and self._running_since is None:
            # It started somewhere between our last sight of it waiting and now.
            self._running_since = self._observed_at
        if self.status == "succeeded":
            self.progress = 1.0
        return (self.status, self.progress, self.queue_position) != before

    def _apply_result(self, reply: Reply[ComfyResultResponse]) -> None:
        data = self.result_data = present(reply.envelope.data)
        self.invoke_id = reply.api_invoke_id or self.invoke_id
        status = normalise_status(data.status)
        self.status = status if status in TERMINAL_STATUSES else self.status
        self.started_at = _datetime_ms(data.task_begin_time)
        self.completed_at = _datetime_ms(data.task_end_time)
        self.duration_ms = value_of(data.task_duration)
        result = value_of(data.result)
        images = value_of(data.images)
        self.images = wrap_output(images, self._handle, task_id=self.id)
        if result is not None:
            self.output = wrap_output(result.to_dict(), self._handle, task_id=self.id)
        elif images:
            self.output = {"images": self.images}

    def __getstate__(self) -> dict[str, Any]:
        # The handle pickles as its client's configuration; the time.monotonic()
        # stamps are re-based on unpickling, as another machine's clock differs.
        return {**self.__dict__, "_pickled_at": time.monotonic()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        shift = time.monotonic() - state.pop("_pickled_at")
        state.setdefault("_workflow_id", None)
        self.__dict__.update(state)
        for name in ("_answered_at", "_observed_at", "_created_at", "_running_since"):
            if state[name] is not None:
                setattr(self, name, state[name] + shift)
        if self._running_sample is not None:
            self._running_sample = (self._running_sample[0] + shift, self._running_sample[1])

    def _result_flow(self, settings: CallSettings) -> Flow[APIError | None]:
        """A result call, applied; or its error when that describes the task (a failed task)."""
        call = RESULT(client=self._handle.api, body=TaskIdRequest(task_id=self.id))
        try:
            self._apply_result((yield from api_call(call, settings, task_id=self.id)))
        except APIError as error:
            if not describes_task(error):
                raise
            return error
        return None

    def _reload_flow(self, settings: CallSettings, on_progress: ProgressCallback | None = None) -> Flow[Prediction]:
        reply = yield from api_call(
            PROGRESS(client=self._handle.api, body=TaskIdRequest(task_id=self.id)), settings, task_id=self.id
        )
        changed = self._apply_progress(reply)
        if self.done and (error := (yield from self._result_flow(settings))) is not None:
            self.status = "failed"
            self.error = error.sub_err_message or error.err_message or error.message
            self.error_code = error.sub_err_code or error.err_code
            self.invoke_id = error.api_invoke_id or self.invoke_id
        if changed and on_progress is not None:
            yield Notify(on_progress, self)
        return self

    def _finish_flow(self, settings: CallSettings, on_progress: ProgressCallback | None) -> Flow[bool]:
        """A poll aimed at the expected finish: the result directly; True if the task had finished."""
        if (yield from self._result_flow(settings)) is not None:
            # Whether the service answers a result call for an unfinished task with its
            # status or with an error is undocumented. An error here may mean either, so
            # ask the progress endpoint, which is authoritative; if the task was still
            # running, stop aiming result calls at this task.
            yield from self._reload_flow(settings, on_progress)
            self._aim_at_result = self.done
            return self.done
        if not self.done:
            return False
        # What a progress poll would have said of a finished task.
        self.queue_position, self.eta = None, 0.0
        if self.status == "succeeded":
            self.progress = 1.0
        if on_progress is not None:
            yield Notify(on_progress, self)
        return True

    def _wait_flow(
        self, settings: CallSettings, polling_interval: float | None, on_progress: ProgressCallback | None
    ) -> Flow[Prediction]:
        polls = misses = 0
        last_missed = probe_skipped = False
        interval: float | None = None
        trust = self._handle.trust
        while not self.done:
            state = self._poll_state(
                polls=polls, last_interval=interval, misses=misses, last_missed=last_missed, probe_skipped=probe_skipped
            )
            interval, aimed = next_poll(state, fixed_interval=polling_interval, listening=on_progress is not None)
            aimed = aimed and self._aim_at_result
            remaining = self._time_left(settings)
            interval = interval if remaining is None else min(interval, remaining)
            yield Sleep(interval)
            # The probe, on the schedule's own terms (no fixed interval, no listener).
            probing = polls == 0 and not aimed and not probe_skipped and polling_interval is None and not on_progress
            if probing and trust.skips_probe(self._workflow_id):
                probe_skipped = True  # decided now, not when planned: trust may have come meanwhile
                continue
            try:
                if aimed:
                    last_missed = not (yield from self._finish_flow(settings, on_progress))
                    misses += last_missed
                    if last_missed:
                        trust.record(self._workflow_id, confirmed=False)
                else:
                    last_missed = False
                    yield from self._reload_flow(settings, on_progress)
                    if probing:
                        trust.record(self._workflow_id, confirmed=estimate_confirmed(self._poll_state(polls=1)))
            except APITimeoutError as error:
                # A poll cut short by the wait's own deadline is the wait timing out, not the server failing.
                self._time_left(settings, error)
                raise
            polls += 1
        return self

    def _poll_state(self, **schedule: Any) -> PollState:
        running_for = None if self._running_since is None else self._answered_at - self._running_since
        return PollState(
            status=self.status,
            eta=self.eta,
            progress=self.progress,
            running_for=running_for,
            answer_age=max(time.monotonic() - self._answered_at, 0.0),
            progress_rate=self._progress_rate,
            elapsed=self._eta_elapsed,
            estimated_total=self.estimated_duration,
            **schedule,
        )

    def _time_left(self, settings: CallSettings, cause: Exception | None = None) -> float | None:
        """Seconds the wait may still take; a PredictionTimeoutError once none are left."""
        remaining = settings.remaining()
        if remaining is not None and remaining <= 0:
            raise PredictionTimeoutError(
                f"Task {self.id} was still {_STATE_WORDS.get(self.status, self.status)} when the wait timed out; "
                f"it keeps running server-side: resume with prediction.wait() or predictions.get({self.id!r}).",
                prediction=self,
            ) from cause
        return remaining

    def _wait(
        self,
        timeout: float | None = None,
        polling_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> tuple[Handle, Flow[Prediction]]:
        """Poll until the task finishes and return this prediction (with ``output`` or ``error``).

        ``timeout`` (seconds) bounds the whole wait, retries included, and raises
        :class:`PredictionTimeoutError`; the task keeps running. By default polls follow
        the server's estimates; ``polling_interval`` fixes the interval instead.
        """
        settings = self._handle.settings(timeout, wait=True)
        validate.positive("polling_interval", polling_interval, allow_none=True)
        return self._handle, self._wait_flow(settings, polling_interval, on_progress)

    def _reload(self) -> tuple[Handle, Flow[Prediction]]:
        """Fetch the task's current state once (and its result if it has finished)."""
        return self._handle, self._reload_flow(self._handle.settings(None))

    wait, async_wait = sync_and_async(_wait)
    reload, async_reload = sync_and_async(_reload)

    def cancel(self) -> None:
        """Not available: the SpeedPix API has no way to cancel a task."""
        raise NotImplementedError(
            "The SpeedPix API has no cancel endpoint: a submitted task runs to its end. "
            "Stop waiting instead (wait(timeout=...)); the task id stays valid for predictions.get()."
        )
