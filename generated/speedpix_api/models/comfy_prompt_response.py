from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.comfy_prompt_data import ComfyPromptData


T = TypeVar("T", bound="ComfyPromptResponse")


@_attrs_define
class ComfyPromptResponse:
    """
    Attributes:
        status (int): Business-gateway status. 10 = success, 20 = failure; any value other than 10 is an error.
        api_invoke_id (None | str | Unset): System-generated id of this call, e.g. `i_66c587a7c6fd500028c10e78`.
        err_code (None | str | Unset): Business-gateway error code: `B_API_ServiceError`, `B_API_InvokeTimeout`,
            `B_API_CauseFlowControl` (rate limit), `B_API_AuditFailed` (content moderation), ….
        err_message (None | str | Unset): Business-gateway error detail.
        sub_err_code (None | str | Unset): Downstream application error code (with `errCode == B_API_ServiceError`).
        sub_err_message (None | str | Unset): Downstream application error detail.
        start_time (Any | Unset): Seen (as null) in the documented progress example; meaning undocumented.
        end_time (Any | Unset): Seen (as null) in the documented progress example; meaning undocumented.
        data (ComfyPromptData | None | Unset): The operation's result; typed per operation, absent or null on errors.
    """

    status: int
    api_invoke_id: None | str | Unset = UNSET
    err_code: None | str | Unset = UNSET
    err_message: None | str | Unset = UNSET
    sub_err_code: None | str | Unset = UNSET
    sub_err_message: None | str | Unset = UNSET
    start_time: Any | Unset = UNSET
    end_time: Any | Unset = UNSET
    data: ComfyPromptData | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.comfy_prompt_data import ComfyPromptData

        status = self.status

        api_invoke_id: None | str | Unset
        if isinstance(self.api_invoke_id, Unset):
            api_invoke_id = UNSET
        else:
            api_invoke_id = self.api_invoke_id

        err_code: None | str | Unset
        if isinstance(self.err_code, Unset):
            err_code = UNSET
        else:
            err_code = self.err_code

        err_message: None | str | Unset
        if isinstance(self.err_message, Unset):
            err_message = UNSET
        else:
            err_message = self.err_message

        sub_err_code: None | str | Unset
        if isinstance(self.sub_err_code, Unset):
            sub_err_code = UNSET
        else:
            sub_err_code = self.sub_err_code

        sub_err_message: None | str | Unset
        if isinstance(self.sub_err_message, Unset):
            sub_err_message = UNSET
        else:
            sub_err_message = self.sub_err_message

        start_time = self.start_time

        end_time = self.end_time

        data: dict[str, Any] | None | Unset
        if isinstance(self.data, Unset):
            data = UNSET
        elif isinstance(self.data, ComfyPromptData):
            data = self.data.to_dict()
        else:
            data = self.data

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
            }
        )
        if api_invoke_id is not UNSET:
            field_dict["apiInvokeId"] = api_invoke_id
        if err_code is not UNSET:
            field_dict["errCode"] = err_code
        if err_message is not UNSET:
            field_dict["errMessage"] = err_message
        if sub_err_code is not UNSET:
            field_dict["subErrCode"] = sub_err_code
        if sub_err_message is not UNSET:
            field_dict["subErrMessage"] = sub_err_message
        if start_time is not UNSET:
            field_dict["startTime"] = start_time
        if end_time is not UNSET:
            field_dict["endTime"] = end_time
        if data is not UNSET:
            field_dict["data"] = data

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.comfy_prompt_data import ComfyPromptData

        d = dict(src_dict)
        status = d.pop("status")

        def _parse_api_invoke_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        api_invoke_id = _parse_api_invoke_id(d.pop("apiInvokeId", UNSET))

        def _parse_err_code(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        err_code = _parse_err_code(d.pop("errCode", UNSET))

        def _parse_err_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        err_message = _parse_err_message(d.pop("errMessage", UNSET))

        def _parse_sub_err_code(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sub_err_code = _parse_sub_err_code(d.pop("subErrCode", UNSET))

        def _parse_sub_err_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sub_err_message = _parse_sub_err_message(d.pop("subErrMessage", UNSET))

        start_time = d.pop("startTime", UNSET)

        end_time = d.pop("endTime", UNSET)

        def _parse_data(data: object) -> ComfyPromptData | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                data_type_0 = ComfyPromptData.from_dict(data)

                return data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ComfyPromptData | None | Unset, data)

        data = _parse_data(d.pop("data", UNSET))

        comfy_prompt_response = cls(
            status=status,
            api_invoke_id=api_invoke_id,
            err_code=err_code,
            err_message=err_message,
            sub_err_code=sub_err_code,
            sub_err_message=sub_err_message,
            start_time=start_time,
            end_time=end_time,
            data=data,
        )

        comfy_prompt_response.additional_properties = d
        return comfy_prompt_response

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
