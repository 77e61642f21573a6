from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="UploadSignRequest")


@_attrs_define
class UploadSignRequest:
    """
    Attributes:
        original_filename (str): Original file name.
        content_type (str): MIME type; the upload PUT must use the same `Content-Type`.
        size (int | Unset): File size in bytes (sent by the Java SDK; optional).
    """

    original_filename: str
    content_type: str
    size: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        original_filename = self.original_filename

        content_type = self.content_type

        size = self.size

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "originalFilename": original_filename,
                "contentType": content_type,
            }
        )
        if size is not UNSET:
            field_dict["size"] = size

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        original_filename = d.pop("originalFilename")

        content_type = d.pop("contentType")

        size = d.pop("size", UNSET)

        upload_sign_request = cls(
            original_filename=original_filename,
            content_type=content_type,
            size=size,
        )

        upload_sign_request.additional_properties = d
        return upload_sign_request

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
