"""``client.predictions``: create workflow tasks (:class:`Prediction`) and look them up by id."""

from __future__ import annotations

from typing import Any, Unpack

from speedpix_api.api.predictions import ComfyPromptRequestOptions

from ._core import validate
from ._core.effects import Flow
from ._core.twins import sync_and_async
from ._flows.handle import Handle
from ._flows.submit import Submission, create_flow
from ._flows.tasks import Prediction, ProgressCallback

__all__ = ["Prediction", "Predictions", "ProgressCallback"]


class Predictions:
    """``client.predictions``: create tasks and look them up by id."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    def _create(
        self,
        workflow_id: str,
        input: Any = None,
        *,
        resource_config_id: str | None = None,
        file_encoding_strategy: str = "url",
        timeout: float | None = None,
        **options: Unpack[ComfyPromptRequestOptions],
    ) -> tuple[Handle, Flow[Prediction]]:
        """Submit a task and return its :class:`Prediction` without waiting for it."""
        task = Submission(workflow_id, input, resource_config_id, file_encoding_strategy, options)
        return self._handle, create_flow(self._handle, self._handle.settings(timeout), task)

    create, async_create = sync_and_async(_create)

    def _get(self, prediction_id: str) -> tuple[Handle, Flow[Prediction]]:
        """The task with this id, in its current state (with its output if it finished)."""
        validate.identifier("prediction_id", prediction_id)
        return Prediction(self._handle, prediction_id, status="unknown")._reload()

    get, async_get = sync_and_async(_get)
