from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UploadSignData")


@_attrs_define
class UploadSignData:
    """
    Attributes:
        upload_url (str | Unset): Presigned URL to `PUT` the bytes to (no gateway headers).
        access_url (None | str | Unset): URL to put into the workflow `inputs`.
        path (None | str | Unset): Storage path of the file.
        object_key (None | str | Unset): Object key of the file.
        expire_time (int | None | str | Unset): Expiry of the signature/file; integer or string, unit undocumented.
    """

    upload_url: str | Unset = UNSET
    access_url: None | str | Unset = UNSET
    path: None | str | Unset = UNSET
    object_key: None | str | Unset = UNSET
    expire_time: int | None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        upload_url = self.upload_url

        access_url: None | str | Unset
        if isinstance(self.access_url, Unset):
            access_url = UNSET
        else:
            access_url = self.access_url

        path: None | str | Unset
        if isinstance(self.path, Unset):
            path = UNSET
        else:
            path = self.path

        object_key: None | str | Unset
        if isinstance(self.object_key, Unset):
            object_key = UNSET
        else:
            object_key = self.object_key

        expire_time: int | None | str | Unset
        if isinstance(self.expire_time, Unset):
            expire_time = UNSET
        else:
            expire_time = self.expire_time

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if upload_url is not UNSET:
            field_dict["uploadUrl"] = upload_url
        if access_url is not UNSET:
            field_dict["accessUrl"] = access_url
        if path is not UNSET:
            field_dict["path"] = path
        if object_key is not UNSET:
            field_dict["objectKey"] = object_key
        if expire_time is not UNSET:
            field_dict["expireTime"] = expire_time

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        upload_url = d.pop("uploadUrl", UNSET)

        def _parse_access_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        access_url = _parse_access_url(d.pop("accessUrl", UNSET))

        def _parse_path(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        path = _parse_path(d.pop("path", UNSET))

        def _parse_object_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        object_key = _parse_object_key(d.pop("objectKey", UNSET))

        def _parse_expire_time(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

        expire_time = _parse_expire_time(d.pop("expireTime", UNSET))

        upload_sign_data = cls(
            upload_url=upload_url,
            access_url=access_url,
            path=path,
            object_key=object_key,
            expire_time=expire_time,
        )

        upload_sign_data.additional_properties = d
        return upload_sign_data

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
