from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.progress_state import ProgressState


T = TypeVar("T", bound="ComfyProgressData")


@_attrs_define
class ComfyProgressData:
    """
    Attributes:
        task_id (str | Unset): Task id.
        status (str | Unset): Task status. Known values: `waiting` (queued), `running`, `succeeded`,
            `failed`. Also seen: `successed` (success, Chinese docs), `canceled` /
            `cancelled` (SDKs only). Unknown values must be accepted.
        progress (float | None | Unset): Progress, from 0 to 1.
        last_queue_remaining (int | None | Unset): Length of the waiting queue ahead; meaningful only while `waiting`.
        eta_relative (float | None | Unset): Estimated remaining time, in seconds.
        message (None | str | Unset): Short human-readable description of the progress.
        state (None | ProgressState | Unset):
    """

    task_id: str | Unset = UNSET
    status: str | Unset = UNSET
    progress: float | None | Unset = UNSET
    last_queue_remaining: int | None | Unset = UNSET
    eta_relative: float | None | Unset = UNSET
    message: None | str | Unset = UNSET
    state: None | ProgressState | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.progress_state import ProgressState

        task_id = self.task_id

        status = self.status

        progress: float | None | Unset
        if isinstance(self.progress, Unset):
            progress = UNSET
        else:
            progress = self.progress

        last_queue_remaining: int | None | Unset
        if isinstance(self.last_queue_remaining, Unset):
            last_queue_remaining = UNSET
        else:
            last_queue_remaining = self.last_queue_remaining

        eta_relative: float | None | Unset
        if isinstance(self.eta_relative, Unset):
            eta_relative = UNSET
        else:
            eta_relative = self.eta_relative

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        state: dict[str, Any] | None | Unset
        if isinstance(self.state, Unset):
            state = UNSET
        elif isinstance(self.state, ProgressState):
            state = self.state.to_dict()
        else:
            state = self.state

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if task_id is not UNSET:
            field_dict["taskId"] = task_id
        if status is not UNSET:
            field_dict["status"] = status
        if progress is not UNSET:
            field_dict["progress"] = progress
        if last_queue_remaining is not UNSET:
            field_dict["lastQueueRemaining"] = last_queue_remaining
        if eta_relative is not UNSET:
            field_dict["etaRelative"] = eta_relative
        if message is not UNSET:
            field_dict["message"] = message
        if state is not UNSET:
            field_dict["state"] = state

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.progress_state import ProgressState

        d = dict(src_dict)
        task_id = d.pop("taskId", UNSET)

        status = d.pop("status", UNSET)

        def _parse_progress(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        progress = _parse_progress(d.pop("progress", UNSET))

        def _parse_last_queue_remaining(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        last_queue_remaining = _parse_last_queue_remaining(
            d.pop("lastQueueRemaining", UNSET)
        )

        def _parse_eta_relative(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        eta_relative = _parse_eta_relative(d.pop("etaRelative", UNSET))

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))

        def _parse_state(data: object) -> None | ProgressState | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                state_type_0 = ProgressState.from_dict(data)

                return state_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProgressState | Unset, data)

        state = _parse_state(d.pop("state", UNSET))

        comfy_progress_data = cls(
            task_id=task_id,
            status=status,
            progress=progress,
            last_queue_remaining=last_queue_remaining,
            eta_relative=eta_relative,
            message=message,
            state=state,
        )

        comfy_progress_data.additional_properties = d
        return comfy_progress_data

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
