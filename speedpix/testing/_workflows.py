"""Workflows: Python callables registered by id, with versions, aliases and timings.

A workflow callable is ``fn(ctx, inputs) -> dict``; the dict becomes the task's
``result``. Raising :class:`TaskFailed` fails the task with that message; any other
exception fails it with ``"<ExceptionType>: <message>"``, as a broken ComfyUI node
would.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.util
import io
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import InitVar, dataclass, field, fields, replace
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

from ._png import draw_prompt
from ._storage import Storage, StoredFile, safe_filename

DEFAULT_SIZE = 256
MAX_SIZE = 2048


class TaskFailed(Exception):
    """Raise from a workflow callable to fail the task with exactly this message."""


class WorkflowFn(Protocol):
    def __call__(self, ctx: WorkflowContext, inputs: dict[str, Any], /) -> dict[str, Any]: ...


FailOption = bool | Callable[[dict[str, Any]], "str | None"] | None


@dataclass(frozen=True, slots=True)
class WorkflowOptions:
    """How a workflow behaves in time and when it fails (see ``Emulator.register``)."""

    duration: float = 0.05
    queue_time: float = 0.0
    fail: FailOption = None
    output_size: int | None = None
    eta_error: float = 0.0
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        for name in ("duration", "queue_time"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (isinstance(self.eta_error, int | float) and self.eta_error > -1):
            raise ValueError(f"eta_error must be a number > -1, got {self.eta_error!r}")
        if self.output_size is not None and self.output_size < 0:
            raise ValueError("output_size must be >= 0")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if not (self.fail is None or isinstance(self.fail, bool) or callable(self.fail)):
            raise TypeError("fail must be None, a bool or a callable(inputs) -> str | None")


OPTION_NAMES = frozenset(f.name for f in fields(WorkflowOptions))


@dataclass(frozen=True, slots=True)
class Workflow:
    workflow_id: str
    fn: WorkflowFn
    versions: tuple[str, ...]
    aliases: Mapping[str, str]
    options: WorkflowOptions = field(default_factory=WorkflowOptions)


@dataclass(frozen=True, slots=True)
class ResolveError:
    sub_err_code: str
    message: str


class WorkflowRegistry:
    """Registered workflows; safe to change from the test thread while serving."""

    def __init__(self) -> None:
        self._workflows: dict[str, Workflow] = {}
        self._lock = threading.Lock()

    def register(
        self,
        workflow_id: str,
        fn: WorkflowFn,
        *,
        versions: Iterable[str] = ("v1",),
        aliases: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Workflow:
        versions = tuple(versions)
        if not workflow_id or not versions:
            raise ValueError("a workflow needs an id and at least one version")
        # By default alias "main" points to the first version, as after a first publish.
        aliases = dict({"main": versions[0]} if aliases is None else aliases)
        for alias, version in aliases.items():
            if version not in versions:
                raise ValueError(f"alias {alias!r} points to unknown version {version!r}")
        if not callable(fn):
            raise TypeError("fn must be a callable(ctx, inputs) -> dict")
        workflow = Workflow(workflow_id, fn, versions, aliases, _options(WorkflowOptions(), options))
        with self._lock:
            self._workflows[workflow_id] = workflow
        return workflow

    def configure(self, workflow_id: str, **options: Any) -> Workflow:
        with self._lock:
            workflow = self._workflows.get(workflow_id)
            if workflow is None:
                raise KeyError(f"no workflow registered as {workflow_id!r}")
            workflow = replace(workflow, options=_options(workflow.options, options))
            self._workflows[workflow_id] = workflow
        return workflow

    def get(self, workflow_id: str) -> Workflow | None:
        return self._workflows.get(workflow_id)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._workflows)

    def resolve(
        self, workflow_id: str, alias_id: str | None, version_id: str | None
    ) -> tuple[Workflow, str] | ResolveError:
        """The workflow and version a submission runs. A ``version_id`` wins over an
        ``alias_id`` (it is the more precise of the two); with neither, alias ``main``."""
        workflow = self._workflows.get(workflow_id)
        if workflow is None:
            return ResolveError("WorkflowNotFound", f"Workflow {workflow_id!r} does not exist.")
        if version_id is not None:
            if version_id not in workflow.versions:
                known = ", ".join(workflow.versions)
                return ResolveError(
                    "VersionNotFound",
                    f"Workflow {workflow_id!r} has no version {version_id!r} (versions: {known}).",
                )
            return workflow, version_id
        alias = "main" if alias_id is None else alias_id
        version = workflow.aliases.get(alias)
        if version is None:
            known = ", ".join(workflow.aliases) or "none"
            return ResolveError(
                "AliasNotFound",
                f"Workflow {workflow_id!r} has no alias {alias!r} (aliases: {known}).",
            )
        return workflow, version


def _options(base: WorkflowOptions, changes: Mapping[str, Any]) -> WorkflowOptions:
    unknown = set(changes) - OPTION_NAMES
    if unknown:
        raise TypeError(f"unknown workflow option(s): {', '.join(sorted(unknown))}")
    return replace(base, **changes)


@dataclass(kw_only=True, eq=False)
class WorkflowContext:
    """What a workflow callable can do: store outputs and read its file inputs."""

    task_id: str
    workflow_id: str
    version: str
    # When set, every stored output is replaced by generated content of this size
    # (to test large downloads without building large results).
    output_size: int | None
    storage: InitVar[Storage]
    now: InitVar[Callable[[], float]]

    def __post_init__(self, storage: Storage, now: Callable[[], float]) -> None:
        self._storage = storage
        self._now = now
        self._count = 0

    def _next_key(self, filename: str) -> str:
        self._count += 1
        return f"output/{self.task_id}/{self._count:05d}_{safe_filename(filename)}"

    def store_file(self, data: bytes, *, content_type: str, filename: str) -> str:
        """Store ``data`` as an output file; returns its (presigned) URL."""
        if self.output_size is not None:
            return self.store_generated(self.output_size, content_type=content_type, filename=filename)
        stored = self._storage.store_bytes(self._next_key(filename), data, content_type, filename)
        return self._storage.download_url(stored.key, self._now())

    def store_generated(self, size: int, *, content_type: str, filename: str) -> str:
        """An output file of ``size`` deterministic pseudo-random bytes, generated while
        it is downloaded (never held in memory); returns its URL."""
        stored = self._storage.store_generated(self._next_key(filename), size, content_type, filename)
        return self._storage.download_url(stored.key, self._now())

    def input_file(self, value: str) -> tuple[bytes, str, str]:
        """``(data, content_type, filename)`` of a file input: a URL of a file this
        emulator holds, or a ``data:`` URI."""
        if value.startswith("data:"):
            return _decode_data_uri(value)
        key = self._storage.key_from_url(value)
        stored: StoredFile | None = None if key is None else self._storage.get(key)
        if stored is None:
            # The emulator has no network access by design: it only knows its own files.
            raise TaskFailed(f"Cannot read input file {value[:200]!r}: not a file of this emulator")
        return self._storage.read(stored), stored.content_type, stored.filename

    def read_input(self, value: str) -> bytes:
        """The bytes of a file input (a URL of a file this emulator holds, or a data URI)."""
        return self.input_file(value)[0]


def _decode_data_uri(value: str) -> tuple[bytes, str, str]:
    header, sep, payload = value[5:].partition(",")
    if not sep:
        raise TaskFailed("Invalid data URI: no ',' separator")
    params = header.split(";")
    content_type = params[0] or "text/plain"
    if "base64" in params[1:]:
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TaskFailed(f"Invalid data URI: bad base64 ({exc})") from None
    else:
        data = unquote_to_bytes(payload)
    extension = content_type.rsplit("/", 1)[-1].split("+")[0] or "bin"
    return data, content_type, f"input.{extension}"


# -- built-in workflows --------------------------------------------------------------


def _size(inputs: Mapping[str, Any], name: str) -> int:
    value = inputs.get(name, DEFAULT_SIZE)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TaskFailed(f"Input {name!r} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise TaskFailed(f"Input {name!r} must be an integer, got {value!r}") from None
    if number < 1:
        raise TaskFailed(f"Input {name!r} must be at least 1, got {number}")
    return min(number, MAX_SIZE)


def demo_txt2img(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Input ``prompt`` (required), ``width``/``height`` (default 256, capped at 2048);
    output ``images``: a real PNG drawn from the prompt."""
    prompt = inputs.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise TaskFailed("Missing required input 'prompt' (a non-empty string)")
    width, height = _size(inputs, "width"), _size(inputs, "height")
    # With output_size set the content is generated anyway: skip drawing.
    png = b"" if ctx.output_size is not None else draw_prompt(prompt, width, height)
    return _png_output(ctx, png, width, height)


def _png_output(ctx: WorkflowContext, png: bytes, width: int, height: int) -> dict[str, Any]:
    """The ``images`` output node of a PNG, stored as ComfyUI names its files."""
    filename = f"{ctx.task_id}_00000_.png"
    url = ctx.store_file(png, content_type="image/png", filename=filename)
    return {
        "images": {
            "url": url,
            "type": "image",
            "filename": filename,
            "format": "png",
            "width": width,
            "height": height,
        }
    }


def demo_echo(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Input ``image`` (an emulator file URL or a data URI); output ``images``: the
    same bytes, served from a new URL."""
    image = inputs.get("image")
    if not isinstance(image, str) or not image:
        raise TaskFailed("Missing required input 'image' (a file URL or a data URI)")
    data, content_type, filename = ctx.input_file(image)
    url = ctx.store_file(data, content_type=content_type, filename=filename)
    major = content_type.split("/", 1)[0]
    return {
        "images": {
            "url": url,
            "type": major if major in ("image", "audio", "video") else "file",
            "filename": filename,
            "format": filename.rsplit(".", 1)[-1] if "." in filename else "",
        }
    }


def demo_img2img(ctx: WorkflowContext, inputs: dict[str, Any]) -> dict[str, Any]:
    """Input ``image`` (an emulator file URL or a data URI), ``prompt`` (optional) and
    ``strength`` (0..1, default 0.8); output ``images``: the image recoloured in two tones
    picked from the prompt, blended with the original by ``strength`` (same size, capped
    at 2048). Decoding needs Pillow where the emulator runs (``speedpix[images]``)."""
    image = inputs.get("image")
    if not isinstance(image, str) or not image:
        raise TaskFailed("Missing required input 'image' (a file URL or a data URI)")
    prompt = inputs.get("prompt", "")
    if not isinstance(prompt, str):
        raise TaskFailed(f"Input 'prompt' must be a string, got {prompt!r}")
    strength = inputs.get("strength", 0.8)
    if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0 <= strength <= 1:
        raise TaskFailed(f"Input 'strength' must be a number from 0 to 1, got {strength!r}")
    data, _, _ = ctx.input_file(image)
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise TaskFailed("demo-img2img needs Pillow where the emulator runs: pip install 'speedpix[images]'") from None
    try:
        with Image.open(io.BytesIO(data)) as opened:
            original = opened.convert("RGB")
    except Exception as exc:  # Pillow raises several types for data it cannot read
        raise TaskFailed(f"Input 'image' is not an image Pillow can read ({type(exc).__name__})") from None
    original.thumbnail((MAX_SIZE, MAX_SIZE))
    seed = hashlib.sha256(prompt.encode("utf-8")).digest()
    dark = (seed[0] // 5, seed[1] // 5, 40 + seed[2] // 5)
    light = (180 + seed[3] % 76, 160 + seed[4] % 96, 120 + seed[5] % 136)
    toned = ImageOps.colorize(ImageOps.grayscale(original), black=dark, white=light)
    result = Image.blend(original, toned, float(strength))
    buffer = io.BytesIO()
    result.save(buffer, format="PNG")
    return _png_output(ctx, buffer.getvalue(), result.width, result.height)


def _pillow_installed() -> bool:
    try:
        return importlib.util.find_spec("PIL") is not None
    except (ImportError, ValueError):
        return False


def builtin_names() -> list[str]:
    registry = WorkflowRegistry()
    register_builtins(registry)
    return registry.names()


def register_builtins(registry: WorkflowRegistry) -> None:
    registry.register("demo-txt2img", demo_txt2img, versions=("v1",), aliases={"main": "v1"})
    registry.register("demo-echo", demo_echo, versions=("v1",), aliases={"main": "v1"})
    # Only where it can run: it decodes its input with Pillow (speedpix[images]).
    if _pillow_installed():
        registry.register("demo-img2img", demo_img2img, versions=("v1",), aliases={"main": "v1"})
