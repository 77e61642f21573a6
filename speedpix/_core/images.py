"""PIL images and numpy arrays, as inputs (PNG) and outputs; both optional, never imported to
*look* for such objects (only classes of modules already in ``sys.modules`` are checked)."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any, Final

from .errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from PIL import Image

EXTRA_HINT: Final = "pip install 'speedpix[images]'"
PNG_NAME: Final = "image.png"
# Modes PNG can hold as they are; anything else (CMYK, YCbCr, LAB, HSV, F…) is converted.
_PNG_MODES: Final = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16", "I;16B", "I;16L"})


def _is_instance(value: object, module: str, name: str) -> bool:
    """Whether ``value`` is a ``module.name``, if ``module`` is imported (its type's module first)."""
    if not type(value).__module__.startswith(module.partition(".")[0]):
        return False
    found = getattr(sys.modules.get(module), name, None)
    return isinstance(found, type) and isinstance(value, found)


def is_pil_image(value: object) -> bool:
    return _is_instance(value, "PIL.Image", "Image")


def is_numpy_array(value: object) -> bool:
    return _is_instance(value, "numpy", "ndarray")


def array_problem(array: Any) -> str | None:
    """Why a numpy array cannot be sent as an image, or None (reads shape and dtype)."""
    shape = tuple(array.shape)
    dtype = str(array.dtype)
    if dtype != "uint8":
        hint = " (scale floats in 0..1 with (a * 255).round().astype('uint8'))" if dtype.startswith("float") else ""
        return f"a numpy array image must have dtype uint8, got {dtype}{hint}"
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (3, 4))):
        return f"a numpy array image must be H×W, H×W×3 (RGB) or H×W×4 (RGBA), got shape {shape}"
    if 0 in shape:
        return f"the numpy array is empty (shape {shape})"
    return None


def pillow() -> Any:
    """The ``PIL.Image`` module, or a clear error naming the extra that brings it."""
    try:
        from PIL import Image  # optional: the [images] extra
    except ImportError:
        raise ConfigurationError(f"this needs Pillow, which is not installed: {EXTRA_HINT}") from None
    return Image


def png_bytes(value: Any, where: str) -> memoryview:
    """A PIL image or a uint8 numpy array, encoded as PNG in memory (CPU work)."""
    image = value
    if is_numpy_array(value):
        if (problem := array_problem(value)) is not None:
            raise InvalidInputError(f"{where}: {problem}")
        try:
            image = pillow().fromarray(value)
        except ConfigurationError:
            raise ConfigurationError(
                f"{where}: a numpy array is sent as a PNG image, which needs Pillow: {EXTRA_HINT}"
            ) from None
    if image.mode not in _PNG_MODES:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buffer = io.BytesIO()
    try:
        image.save(buffer, format="PNG")
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"{where}: cannot encode this {image.mode} image as PNG: {error}") from None
    return buffer.getbuffer()


def open_image(data: bytes, what: str) -> Image.Image:
    """Decode ``data`` with Pillow, fully (so a broken file fails here, not later)."""
    image_module = pillow()
    try:
        image: Image.Image = image_module.open(io.BytesIO(data))
        image.load()
    except Exception as error:  # Pillow raises OSError, ValueError, SyntaxError… for bad data
        raise InvalidInputError(
            f"{what} is not an image Pillow can open ({type(error).__name__}: {error}); "
            "use .read() or .save() for other files"
        ) from None
    return image
