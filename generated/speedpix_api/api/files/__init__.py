"""Contains endpoint functions for accessing the API

For each operation whose request body is a model with optional fields, a TypedDict of
those fields (``<Model>Options``): the keyword arguments a caller may add to a request,
derived from the spec, so that a field added there reaches typed callers on regeneration.
"""

from typing import TypedDict


class UploadSignRequestOptions(TypedDict, total=False):
    """The optional fields of ``UploadSignRequest`` (``sp_create_temp_file_upload_sign``), as keyword arguments."""

    size: int
