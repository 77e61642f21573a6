from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.comfy_prompt_request_inputs import ComfyPromptRequestInputs


T = TypeVar("T", bound="ComfyPromptRequest")


@_attrs_define
class ComfyPromptRequest:
    """Exactly one of `alias_id` / `version_id` is expected.

    Attributes:
        workflow_id (str): Workflow id, copied from the console's workflow management page.
        inputs (ComfyPromptRequestInputs): Workflow-specific inputs, keyed by the input mapping configured when the
            workflow was published. File inputs are a public URL or a
            `data:<mime>;base64,...` URI.
        alias_id (str | Unset): Workflow alias (a pointer to a version, e.g. `main`).
        version_id (str | Unset): Workflow version, e.g. `v1`.
        randomise_seeds (bool | Unset): Replace every `seed` in the workflow with a random value. Default: False.
        return_temp_files (bool | Unset): Also return the workflow's temporary images (e.g. previews). Default: False.
    """

    workflow_id: str
    inputs: ComfyPromptRequestInputs
    alias_id: str | Unset = UNSET
    version_id: str | Unset = UNSET
    randomise_seeds: bool | Unset = False
    return_temp_files: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        workflow_id = self.workflow_id

        inputs = self.inputs.to_dict()

        alias_id = self.alias_id

        version_id = self.version_id

        randomise_seeds = self.randomise_seeds

        return_temp_files = self.return_temp_files

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "workflow_id": workflow_id,
                "inputs": inputs,
            }
        )
        if alias_id is not UNSET:
            field_dict["alias_id"] = alias_id
        if version_id is not UNSET:
            field_dict["version_id"] = version_id
        if randomise_seeds is not UNSET:
            field_dict["randomise_seeds"] = randomise_seeds
        if return_temp_files is not UNSET:
            field_dict["return_temp_files"] = return_temp_files

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.comfy_prompt_request_inputs import ComfyPromptRequestInputs

        d = dict(src_dict)
        workflow_id = d.pop("workflow_id")

        inputs = ComfyPromptRequestInputs.from_dict(d.pop("inputs"))

        alias_id = d.pop("alias_id", UNSET)

        version_id = d.pop("version_id", UNSET)

        randomise_seeds = d.pop("randomise_seeds", UNSET)

        return_temp_files = d.pop("return_temp_files", UNSET)

        comfy_prompt_request = cls(
            workflow_id=workflow_id,
            inputs=inputs,
            alias_id=alias_id,
            version_id=version_id,
            randomise_seeds=randomise_seeds,
            return_temp_files=return_temp_files,
        )

        comfy_prompt_request.additional_properties = d
        return comfy_prompt_request

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
