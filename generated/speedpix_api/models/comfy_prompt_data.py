from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ComfyPromptData")


@_attrs_define
class ComfyPromptData:
    """
    Attributes:
        task_id (str | Unset): Task id used for the progress and result calls.
        status (str | Unset): Task status. Known values: `waiting` (queued), `running`, `succeeded`,
            `failed`. Also seen: `successed` (success, Chinese docs), `canceled` /
            `cancelled` (SDKs only). Unknown values must be accepted.
        estimated_duration_in_seconds (float | None | Unset): Estimated processing time of the task, in seconds.
    """

    task_id: str | Unset = UNSET
    status: str | Unset = UNSET
    estimated_duration_in_seconds: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id = self.task_id

        status = self.status

        estimated_duration_in_seconds: float | None | Unset
        if isinstance(self.estimated_duration_in_seconds, Unset):
            estimated_duration_in_seconds = UNSET
        else:
            estimated_duration_in_seconds = self.estimated_duration_in_seconds

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if task_id is not UNSET:
            field_dict["taskId"] = task_id
        if status is not UNSET:
            field_dict["status"] = status
        if estimated_duration_in_seconds is not UNSET:
            field_dict["estimatedDurationInSeconds"] = estimated_duration_in_seconds

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        task_id = d.pop("taskId", UNSET)

        status = d.pop("status", UNSET)

        def _parse_estimated_duration_in_seconds(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        estimated_duration_in_seconds = _parse_estimated_duration_in_seconds(
            d.pop("estimatedDurationInSeconds", UNSET)
        )

        comfy_prompt_data = cls(
            task_id=task_id,
            status=status,
            estimated_duration_in_seconds=estimated_duration_in_seconds,
        )

        comfy_prompt_data.additional_properties = d
        return comfy_prompt_data

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
