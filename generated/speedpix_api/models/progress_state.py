from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ProgressState")


@_attrs_define
class ProgressState:
    """Detailed progress of the node that is executing.

    Attributes:
        node_label (None | str | Unset): Type of the node currently executing.
        step (int | None | Unset): Current iteration step of that node.
        max_steps (int | None | Unset): Maximum iteration steps of that node.
    """

    node_label: None | str | Unset = UNSET
    step: int | None | Unset = UNSET
    max_steps: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        node_label: None | str | Unset
        if isinstance(self.node_label, Unset):
            node_label = UNSET
        else:
            node_label = self.node_label

        step: int | None | Unset
        if isinstance(self.step, Unset):
            step = UNSET
        else:
            step = self.step

        max_steps: int | None | Unset
        if isinstance(self.max_steps, Unset):
            max_steps = UNSET
        else:
            max_steps = self.max_steps

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if node_label is not UNSET:
            field_dict["nodeLabel"] = node_label
        if step is not UNSET:
            field_dict["step"] = step
        if max_steps is not UNSET:
            field_dict["maxSteps"] = max_steps

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_node_label(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        node_label = _parse_node_label(d.pop("nodeLabel", UNSET))

        def _parse_step(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        step = _parse_step(d.pop("step", UNSET))

        def _parse_max_steps(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_steps = _parse_max_steps(d.pop("maxSteps", UNSET))

        progress_state = cls(
            node_label=node_label,
            step=step,
            max_steps=max_steps,
        )

        progress_state.additional_properties = d
        return progress_state

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
