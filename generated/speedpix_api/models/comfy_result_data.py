from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.comfy_result_data_info_type_0 import ComfyResultDataInfoType0
    from ..models.comfy_result_data_parameters_type_0 import (
        ComfyResultDataParametersType0,
    )
    from ..models.comfy_result_data_result_type_0 import ComfyResultDataResultType0


T = TypeVar("T", bound="ComfyResultData")


@_attrs_define
class ComfyResultData:
    """
    Attributes:
        task_id (str | Unset): Task id.
        status (str | Unset): Task status. Known values: `waiting` (queued), `running`, `succeeded`,
            `failed`. Also seen: `successed` (success, Chinese docs), `canceled` /
            `cancelled` (SDKs only). Unknown values must be accepted.
        task_duration (int | None | Unset): Execution duration, in milliseconds.
        task_begin_time (int | None | Unset): Start time, milliseconds since the Unix epoch (13 digits).
        task_end_time (int | None | Unset): End time, milliseconds since the Unix epoch (13 digits).
        images (list[Any] | None | Unset): Default output list, used when no custom outputs were configured:
            documented as time-limited URL strings; empty when the workflow
            outputs no files. Items are kept as sent.
        result (ComfyResultDataResultType0 | None | Unset): Custom output fields keyed by the names chosen at publish
            time. A file
            output is an object with at least `url` and `type` (see `OutputFile`);
            other outputs are plain values.
        info (ComfyResultDataInfoType0 | None | Unset): Image information (documented for the legacy SD API; SDKs carry
            it).
        parameters (ComfyResultDataParametersType0 | None | Unset): Generation parameters (documented for the legacy SD
            API; SDKs carry it).
        imgs_bytes (list[str] | None | Unset): Undocumented; present only in the Python SDK's schema.
    """

    task_id: str | Unset = UNSET
    status: str | Unset = UNSET
    task_duration: int | None | Unset = UNSET
    task_begin_time: int | None | Unset = UNSET
    task_end_time: int | None | Unset = UNSET
    images: list[Any] | None | Unset = UNSET
    result: ComfyResultDataResultType0 | None | Unset = UNSET
    info: ComfyResultDataInfoType0 | None | Unset = UNSET
    parameters: ComfyResultDataParametersType0 | None | Unset = UNSET
    imgs_bytes: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.comfy_result_data_info_type_0 import ComfyResultDataInfoType0
        from ..models.comfy_result_data_parameters_type_0 import (
            ComfyResultDataParametersType0,
        )
        from ..models.comfy_result_data_result_type_0 import ComfyResultDataResultType0

        task_id = self.task_id

        status = self.status

        task_duration: int | None | Unset
        if isinstance(self.task_duration, Unset):
            task_duration = UNSET
        else:
            task_duration = self.task_duration

        task_begin_time: int | None | Unset
        if isinstance(self.task_begin_time, Unset):
            task_begin_time = UNSET
        else:
            task_begin_time = self.task_begin_time

        task_end_time: int | None | Unset
        if isinstance(self.task_end_time, Unset):
            task_end_time = UNSET
        else:
            task_end_time = self.task_end_time

        images: list[Any] | None | Unset
        if isinstance(self.images, Unset):
            images = UNSET
        elif isinstance(self.images, list):
            images = self.images

        else:
            images = self.images

        result: dict[str, Any] | None | Unset
        if isinstance(self.result, Unset):
            result = UNSET
        elif isinstance(self.result, ComfyResultDataResultType0):
            result = self.result.to_dict()
        else:
            result = self.result

        info: dict[str, Any] | None | Unset
        if isinstance(self.info, Unset):
            info = UNSET
        elif isinstance(self.info, ComfyResultDataInfoType0):
            info = self.info.to_dict()
        else:
            info = self.info

        parameters: dict[str, Any] | None | Unset
        if isinstance(self.parameters, Unset):
            parameters = UNSET
        elif isinstance(self.parameters, ComfyResultDataParametersType0):
            parameters = self.parameters.to_dict()
        else:
            parameters = self.parameters

        imgs_bytes: list[str] | None | Unset
        if isinstance(self.imgs_bytes, Unset):
            imgs_bytes = UNSET
        elif isinstance(self.imgs_bytes, list):
            imgs_bytes = self.imgs_bytes

        else:
            imgs_bytes = self.imgs_bytes

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if task_id is not UNSET:
            field_dict["taskId"] = task_id
        if status is not UNSET:
            field_dict["status"] = status
        if task_duration is not UNSET:
            field_dict["taskDuration"] = task_duration
        if task_begin_time is not UNSET:
            field_dict["taskBeginTime"] = task_begin_time
        if task_end_time is not UNSET:
            field_dict["taskEndTime"] = task_end_time
        if images is not UNSET:
            field_dict["images"] = images
        if result is not UNSET:
            field_dict["result"] = result
        if info is not UNSET:
            field_dict["info"] = info
        if parameters is not UNSET:
            field_dict["parameters"] = parameters
        if imgs_bytes is not UNSET:
            field_dict["imgs_bytes"] = imgs_bytes

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.comfy_result_data_info_type_0 import ComfyResultDataInfoType0
        from ..models.comfy_result_data_parameters_type_0 import (
            ComfyResultDataParametersType0,
        )
        from ..models.comfy_result_data_result_type_0 import ComfyResultDataResultType0

        d = dict(src_dict)
        task_id = d.pop("taskId", UNSET)

        status = d.pop("status", UNSET)

        def _parse_task_duration(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        task_duration = _parse_task_duration(d.pop("taskDuration", UNSET))

        def _parse_task_begin_time(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        task_begin_time = _parse_task_begin_time(d.pop("taskBeginTime", UNSET))

        def _parse_task_end_time(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        task_end_time = _parse_task_end_time(d.pop("taskEndTime", UNSET))

        def _parse_images(data: object) -> list[Any] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                images_type_0 = cast(list[Any], data)

                return images_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Any] | None | Unset, data)

        images = _parse_images(d.pop("images", UNSET))

        def _parse_result(data: object) -> ComfyResultDataResultType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_type_0 = ComfyResultDataResultType0.from_dict(data)

                return result_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ComfyResultDataResultType0 | None | Unset, data)

        result = _parse_result(d.pop("result", UNSET))

        def _parse_info(data: object) -> ComfyResultDataInfoType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                info_type_0 = ComfyResultDataInfoType0.from_dict(data)

                return info_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ComfyResultDataInfoType0 | None | Unset, data)

        info = _parse_info(d.pop("info", UNSET))

        def _parse_parameters(
            data: object,
        ) -> ComfyResultDataParametersType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                parameters_type_0 = ComfyResultDataParametersType0.from_dict(data)

                return parameters_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ComfyResultDataParametersType0 | None | Unset, data)

        parameters = _parse_parameters(d.pop("parameters", UNSET))

        def _parse_imgs_bytes(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                imgs_bytes_type_0 = cast(list[str], data)

                return imgs_bytes_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        imgs_bytes = _parse_imgs_bytes(d.pop("imgs_bytes", UNSET))

        comfy_result_data = cls(
            task_id=task_id,
            status=status,
            task_duration=task_duration,
            task_begin_time=task_begin_time,
            task_end_time=task_end_time,
            images=images,
            result=result,
            info=info,
            parameters=parameters,
            imgs_bytes=imgs_bytes,
        )

        comfy_result_data.additional_properties = d
        return comfy_result_data

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
