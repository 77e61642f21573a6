"""Submitting a task (:func:`create_flow`), and ``run()``: submit, then wait (:func:`run_flow`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from speedpix_api.api.predictions import ComfyPromptRequestOptions
from speedpix_api.models import ComfyPromptRequest, ComfyPromptRequestInputs

from .._core import validate
from .._core.effects import Blocking, Flow, Parallel
from .._core.errors import InvalidInputError, PredictionError, SpeedPixException
from .._core.inputs import FileSource, check_base64_sizes, check_strategy, fill_slots, resolve_files, walk_inputs
from .._core.logging import logger
from .._core.replies import present, value_of
from .._core.retry import CallSettings, may_have_run
from .calls import SUBMIT, api_call
from .handle import Handle
from .tasks import Prediction, ProgressCallback
from .transfers import File, upload_flow
from .uploads import shared_upload_flow


def _input_urls(handle: Handle, settings: CallSettings, plan: Any, strategy: str) -> Flow[list[str]]:
    if not plan.sources:
        return []
    if strategy == "base64":
        check_base64_sizes(plan.sources)
        urls: list[str] = yield Blocking(lambda: [source.data_uri() for source in plan.sources])
        return urls

    def upload(source: FileSource) -> Flow[File]:
        flow = upload_flow(handle.api, source, settings, handle.config.transfer_timeouts)
        return shared_upload_flow(handle.uploads, source, settings, flow) if handle.config.reuse_uploads else flow

    files = yield Parallel([upload(source) for source in plan.sources])
    return [file.access_url for file in files]


@dataclass(frozen=True)
class Submission:
    """What ``run()``/``predictions.create()`` create a task from, as given."""

    workflow_id: str
    input: Any
    resource_config_id: str | None
    file_encoding_strategy: str
    options: ComfyPromptRequestOptions


def create_flow(handle: Handle, settings: CallSettings, task: Submission) -> Flow[Prediction]:
    """Validate, send the input files, then submit the task."""
    workflow_id, resource_config_id = task.workflow_id, task.resource_config_id
    validate.identifier("workflow_id", workflow_id)
    validate.identifier("resource_config_id", resource_config_id, optional=True)
    validate.check_header_values(resource_config_id=resource_config_id)
    fields = validate.request_options(task.options)
    strategy = check_strategy(task.file_encoding_strategy)
    walked = walk_inputs({} if task.input is None else task.input, detect_file_paths=handle.config.detect_file_paths)
    # Only inputs that may hold files need the file system, off the event loop.
    plan = (yield Blocking(lambda: resolve_files(walked))) if walked.pending else walked
    phase = "uploading"
    try:
        urls = yield from _input_urls(handle, settings, plan, strategy)
        inputs = ComfyPromptRequestInputs.from_dict(fill_slots(plan.value, urls))
        body = ComfyPromptRequest(workflow_id=workflow_id, inputs=inputs, **fields)
        phase = "submitting"
        submit = SUBMIT(client=handle.api, body=body, x_sp_resource_config_id=resource_config_id or "default")
        reply = yield from api_call(submit, settings)
        data = present(reply.envelope.data)
    except SpeedPixException as error:
        # Which step failed, and whether a task may exist (an InvalidInputError is "validating").
        if error.phase is None:
            error.phase = phase
            error.task_may_exist = phase == "submitting" and may_have_run(error)
        raise
    prediction = Prediction(
        handle,
        str(data.task_id),
        status=value_of(data.status) or "waiting",
        estimated_duration=value_of(data.estimated_duration_in_seconds),
        invoke_id=reply.api_invoke_id,
        answered_at=reply.answered_at,
        workflow_id=workflow_id,
    )
    logger.debug("submitted task %s (workflow %s)", prediction.id, workflow_id)
    return prediction


def run_flow(
    handle: Handle,
    task: Submission,
    *,
    wait: bool,
    timeout: float | None,
    polling_interval: float | None,
    on_progress: ProgressCallback | None,
) -> Flow[Any]:
    """``run()``: create the task, then (unless ``wait=False``) wait for its output."""
    validate.flag("wait", wait)
    validate.positive("polling_interval", polling_interval, allow_none=True)
    if on_progress is not None and not callable(on_progress):
        raise InvalidInputError("on_progress must be a callable taking the Prediction")
    settings = handle.settings(timeout, wait=wait)
    prediction = yield from create_flow(handle, settings, task)
    if not wait:
        return prediction
    yield from prediction._wait_flow(settings, polling_interval, on_progress)
    if prediction.status != "succeeded":
        raise PredictionError(
            f"Task {prediction.id} {prediction.status}: {prediction.error or 'no error message'}"
            + (f" ({prediction.error_code})" if prediction.error_code else ""),
            prediction=prediction,
        )
    return prediction.output
