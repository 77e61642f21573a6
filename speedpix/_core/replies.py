"""What a gateway reply means: the one place where what the server sent is checked (types,
numbers made usable in place, depth), since the generated parser only casts."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Generic, TypeVar, cast

import httpx

from speedpix_api import models as m
from speedpix_api.types import Unset

from .effects import Call, CallOutcome, E
from .errors import MalformedResponseError, SpeedPixException
from .gateway import describe_body, envelope_error, gateway_error, text, transport_error

T = TypeVar("T")


@dataclass(frozen=True)
class Reply(Generic[E]):
    """A successful call's envelope and ids; ``answered_at`` (monotonic, halfway through the
    attempt) is when the server probably wrote it, which its ETAs count from."""

    envelope: E
    api_invoke_id: str | None
    request_id: str | None
    answered_at: float = 0.0


def present(value: T | Unset | None) -> T:
    """A reply's ``data``, which :func:`interpret` has checked is there."""
    assert value is not None and not isinstance(value, Unset)
    return value


def value_of(value: T | Unset | None) -> T | None:
    """A reply field's value, None where the reply left it out."""
    return None if isinstance(value, Unset) else value


#: How deeply a reply may nest (objects and arrays, the envelope counted as 1). A real
#: result is about 6 deep (envelope, data, result, node, list of files, file); 64 leaves
#: ample room while keeping every walker of ours (wrap_output, to_dict, the CLI's JSON)
#: far from the interpreter's recursion limit.
MAX_REPLY_DEPTH: Final = 64

# The first instant datetime cannot show (year 10000), in milliseconds since the epoch.
_TIMESTAMP_MS_LIMIT: Final = 253_402_300_800_000


class _Refused(Exception):
    """A value of a reply that cannot be used (becomes a MalformedResponseError)."""


# A JSON value's kind, as a message names it; the first type that matches (bool before int).
_KINDS: Final = (
    (type(None), "null"),
    (bool, "a boolean"),
    (int | float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
)


def _kind(value: object) -> str:
    return next((kind for types, kind in _KINDS if isinstance(value, types)), type(value).__name__)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def reply_status(value: object) -> int | None:
    """The envelope's ``status`` as a number (``"10"`` and ``10.0`` mean 10 too), None if it is not one."""
    if isinstance(value, str):
        digits = value.strip()
        return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 9 else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def finite(value: object) -> float | None:
    """A JSON number as a finite float, else None."""
    if not _is_number(value):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int of hundreds of digits
        return None
    return number if math.isfinite(number) else None


def fraction(value: object) -> float | None:
    """A progress: clamped into 0..1 when finite, None when NaN or infinite."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(min(max(value, 0), 1))  # however large: no float conversion to overflow
    number = finite(value)
    return None if number is None else min(max(number, 0.0), 1.0)


def seconds(value: object) -> float | None:
    """An ETA or duration in seconds: None unless finite and not negative."""
    number = finite(value)
    return number if number is not None and number >= 0 else None


def count(value: object) -> int | None:
    """A count (queue position, steps, milliseconds), rounded down: None unless finite and not negative."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    number = finite(value)
    return int(number) if number is not None and number >= 0 else None


def timestamp_ms(value: object) -> int | None:
    """Milliseconds since the epoch: None unless ``datetime`` can show it (1970 to 9999)."""
    number = count(value)
    return number if number is not None and number < _TIMESTAMP_MS_LIMIT else None


def reply_depth(value: object, limit: int = MAX_REPLY_DEPTH) -> int:
    """How deeply ``value`` nests (objects, arrays, models), without recursion; stops counting past ``limit``."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        elif (attributes := getattr(type(item), "__attrs_attrs__", None)) is not None:
            fields = [getattr(item, attribute.name) for attribute in attributes]
            children = [child for child in fields if not isinstance(child, dict)]
            children += [child for field in fields if isinstance(field, dict) for child in field.values()]
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _typed(types: type | tuple[type, ...], expected: str, value: Any, where: str) -> Any:
    """``value`` if absent, null or of ``types`` (never a boolean for a number)."""
    if value is None or isinstance(value, Unset):
        return value
    if isinstance(value, types) and not isinstance(value, bool):  # no field of the spec is a boolean
        return value
    raise _Refused(f"{where} is {_kind(value)}, not {expected}")


def _number(clean: Callable[[object], object], value: Any, where: str) -> Any:
    """A number field, made usable by ``clean`` (absent stays absent, null stays None)."""
    if isinstance(value, Unset):
        return value
    if value is not None and not _is_number(value):
        raise _Refused(f"{where} is {_kind(value)}, not a number")
    return clean(value)


_Check = Callable[[Any, str], Any]
_STRING = partial(_typed, str, "a string")
_ARRAY = partial(_typed, list, "an array")
_COUNT = partial(_number, count)
_SECONDS = partial(_number, seconds)
_TIMESTAMP = partial(_number, timestamp_ms)


def _strings(value: Any, where: str) -> Any:
    if isinstance(_ARRAY(value, where), list):
        for index, item in enumerate(value):
            _STRING(item, f"{where}[{index}]")
    return value


def _data(model: type) -> dict[str, _Check]:
    return {"data": partial(_typed, model, "an object of the expected fields")}


# What each model of a reply must hold: a check (given a value and where it is, the value
# to keep, or _Refused) by JSON name, in the order checked; a response model, its data.
_TASK: Final = {"taskId": _STRING, "status": _STRING}
_FIELDS: Final[dict[type, dict[str, _Check]]] = {
    m.ComfyPromptResponse: _data(m.ComfyPromptData),
    m.ComfyPromptData: {**_TASK, "estimatedDurationInSeconds": _SECONDS},
    m.ComfyProgressResponse: _data(m.ComfyProgressData),
    m.ComfyProgressData: {
        **_TASK,
        "progress": partial(_number, fraction),
        "lastQueueRemaining": _COUNT,
        "etaRelative": _SECONDS,
        "message": _STRING,
        "state": partial(_typed, m.ProgressState, "an object"),
    },
    m.ProgressState: {"nodeLabel": _STRING, "step": _COUNT, "maxSteps": _COUNT},
    m.ComfyResultResponse: _data(m.ComfyResultData),
    m.ComfyResultData: {
        **_TASK,
        "taskDuration": _COUNT,
        "taskBeginTime": _TIMESTAMP,
        "taskEndTime": _TIMESTAMP,
        "images": _ARRAY,
        "result": partial(_typed, m.ComfyResultDataResultType0, "an object"),
        "info": partial(_typed, m.ComfyResultDataInfoType0, "an object"),
        "parameters": partial(_typed, m.ComfyResultDataParametersType0, "an object"),
        "imgs_bytes": _strings,
    },
    m.UploadSignResponse: _data(m.UploadSignData),
    m.UploadSignData: {
        "uploadUrl": _STRING,
        "accessUrl": _STRING,
        "path": _STRING,
        "objectKey": _STRING,
        "expireTime": lambda value, where: value if isinstance(value, str) else _TIMESTAMP(value, where),
    },
}
# The fields without which a reply is of no use, checked after their types.
_REQUIRED: Final = {m.ComfyPromptData: ("taskId",), m.UploadSignData: ("uploadUrl", "accessUrl")}


@functools.cache
def _attribute(name: str) -> str:
    """The generated models' spelling of a JSON name: ``taskId`` is ``task_id``."""
    return re.sub("([A-Z])", r"_\1", name).lower()


def _check_fields(model: object, where: str = "") -> None:
    """Checks the fields of ``model`` that _FIELDS lists, and theirs, in place."""
    for name, check in _FIELDS.get(type(model), {}).items():
        attribute = _attribute(name)
        value = check(getattr(model, attribute), where + name)
        setattr(model, attribute, value)
        _check_fields(value, f"{where}{name}.")
    for name in _REQUIRED.get(type(model), ()):
        if not getattr(model, _attribute(name)):
            raise _Refused(f"{where}{name} is missing")


def interpret(call: Call[E], outcome: CallOutcome[E], *, task_id: str | None = None) -> Reply[E] | SpeedPixException:
    """The parsed envelope of a successful call, every value checked, or the typed error
    describing the failure (returned, not raised: the caller decides on a retry first)."""
    response = outcome.response
    if isinstance(outcome.error, httpx.TransportError):
        return transport_error(outcome.error, what=call.name, task_id=task_id)
    request_id = response.headers.get("x-ca-request-id") if response is not None else None
    if outcome.error is not None or response is None:  # a reply refused as it arrived
        detail = str(outcome.error) if outcome.error is not None else "no response"
        return MalformedResponseError(
            f"{call.name} returned an unreadable reply: {detail}.", request_id=request_id, task_id=task_id
        )
    if response.status_code != 200:
        return gateway_error(response, task_id=task_id)
    envelope = outcome.parsed.parsed if outcome.parsed is not None else None
    if envelope is None:
        return MalformedResponseError(
            f"{call.name} returned a body that is not the API's JSON envelope ({describe_body(response)}).",
            status_code=response.status_code,
            request_id=request_id,
            task_id=task_id,
        )
    try:
        status = reply_status(envelope.status)
        if status is None:
            raise _Refused(f"status is {_kind(envelope.status)} ({str(envelope.status)[:40]!r}), not a number")
        for name in ("apiInvokeId", "errCode", "errMessage", "subErrCode", "subErrMessage"):
            field = getattr(envelope, _attribute(name))
            # Codes are strings; a gateway that sends a numeric code still said something.
            if isinstance(field, float) and not math.isfinite(field):
                raise _Refused(f"{name} is not a finite number")
            _typed((str, int, float), "a string", field, name)
        if status != 10:
            return envelope_error(envelope, request_id=request_id, task_id=task_id)
        if envelope.data is None or isinstance(envelope.data, Unset):
            return MalformedResponseError(
                f"{call.name} succeeded but returned no data.",
                request_id=request_id,
                api_invoke_id=text(envelope.api_invoke_id),
                task_id=task_id,
            )
        _check_fields(envelope)
        if reply_depth(envelope) > MAX_REPLY_DEPTH:
            raise _Refused(f"it nests deeper than {MAX_REPLY_DEPTH} levels")
    except _Refused as problem:
        data_task_id = getattr(envelope.data, "task_id", None)
        return MalformedResponseError(
            f"{call.name} returned a malformed reply: {problem}.",
            status_code=response.status_code,
            request_id=request_id,
            api_invoke_id=invoke_id if isinstance(invoke_id := envelope.api_invoke_id, str) else None,
            task_id=task_id or (data_task_id if isinstance(data_task_id, str) and data_task_id else None),
        )
    cast(Any, envelope).status = status  # "10" read as 10 (see reply_status)
    return Reply(
        envelope=envelope,
        api_invoke_id=text(envelope.api_invoke_id),
        request_id=request_id,
        answered_at=(outcome.sent_at + outcome.received_at) / 2,
    )


# The server's spellings, mapped to ours. Unknown statuses are kept as sent and treated
# as "still working" (the wait's deadline bounds them).
_STATUS_ALIASES: Final = {"successed": "succeeded", "success": "succeeded", "cancelled": "canceled"}
TERMINAL_STATUSES: Final = frozenset({"succeeded", "failed", "canceled"})


def normalise_status(status: object) -> str:
    text = str(status).strip().lower() if status is not None and not isinstance(status, Unset) else "unknown"
    return _STATUS_ALIASES.get(text, text)
