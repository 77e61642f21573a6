"""Contains endpoint functions for accessing the API

For each operation whose request body is a model with optional fields, a TypedDict of
those fields (``<Model>Options``): the keyword arguments a caller may add to a request,
derived from the spec, so that a field added there reaches typed callers on regeneration.
"""

from typing import TypedDict


class ComfyPromptRequestOptions(TypedDict, total=False):
    """The optional fields of ``ComfyPromptRequest`` (``comfy_prompt``), as keyword arguments."""

    alias_id: str
    version_id: str
    randomise_seeds: bool
    return_temp_files: bool
