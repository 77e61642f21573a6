from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="OutputFile")


@_attrs_define
class OutputFile:
    """A file-type custom output node inside `result` (image, audio, video). The URL
    is time-limited: download and re-store it. Not referenced by `result`, which
    is free-form; use it to read a node that has a `url`.

        Attributes:
            url (str | Unset): Time-limited, publicly accessible URL of the file.
            type_ (str | Unset): Kind of file (e.g. `image`, `video`, `audio`).
            filename (str | Unset):
            object_key (str | Unset):
            format_ (str | Unset): File format, e.g. `png`, `webp`, `mp4`.
            width (int | Unset): Width in pixels (images and videos).
            height (int | Unset): Height in pixels (images and videos).
            preview (str | Unset): Preview URL, when the server provides one.
    """

    url: str | Unset = UNSET
    type_: str | Unset = UNSET
    filename: str | Unset = UNSET
    object_key: str | Unset = UNSET
    format_: str | Unset = UNSET
    width: int | Unset = UNSET
    height: int | Unset = UNSET
    preview: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        url = self.url

        type_ = self.type_

        filename = self.filename

        object_key = self.object_key

        format_ = self.format_

        width = self.width

        height = self.height

        preview = self.preview

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if url is not UNSET:
            field_dict["url"] = url
        if type_ is not UNSET:
            field_dict["type"] = type_
        if filename is not UNSET:
            field_dict["filename"] = filename
        if object_key is not UNSET:
            field_dict["object_key"] = object_key
        if format_ is not UNSET:
            field_dict["format"] = format_
        if width is not UNSET:
            field_dict["width"] = width
        if height is not UNSET:
            field_dict["height"] = height
        if preview is not UNSET:
            field_dict["preview"] = preview

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        url = d.pop("url", UNSET)

        type_ = d.pop("type", UNSET)

        filename = d.pop("filename", UNSET)

        object_key = d.pop("object_key", UNSET)

        format_ = d.pop("format", UNSET)

        width = d.pop("width", UNSET)

        height = d.pop("height", UNSET)

        preview = d.pop("preview", UNSET)

        output_file = cls(
            url=url,
            type_=type_,
            filename=filename,
            object_key=object_key,
            format_=format_,
            width=width,
            height=height,
            preview=preview,
        )

        output_file.additional_properties = d
        return output_file

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
