"""The pure checks of a reply's values (``speedpix._core.replies``), one by one."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from speedpix import MalformedResponseError
from speedpix._core.effects import Call, CallOutcome
from speedpix._core.errors import APIError
from speedpix._core.replies import (
    MAX_REPLY_DEPTH,
    Reply,
    count,
    finite,
    fraction,
    interpret,
    reply_depth,
    reply_status,
    seconds,
    timestamp_ms,
)
from speedpix_api.models import (
    ComfyProgressResponse,
    ComfyPromptResponse,
    ComfyResultResponse,
    UploadSignResponse,
)
from speedpix_api.types import Response

NAN, INF = float("nan"), float("inf")
HUGE = 10**400  # an int no float can hold


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, 10),
        ("10", 10),
        (" 10 ", 10),
        (10.0, 10),
        (20, 20),
        ("20", 20),
        (True, None),
        ("ten", None),
        ("1e1", None),
        ("-10", None),
        (10.5, None),
        (NAN, None),
        (None, None),
        ([10], None),
        ({"a": 1}, None),
        ("١٠", None),
    ],  # Arabic-Indic digits are not "10"
)
def test_reply_status(value: object, expected: int | None) -> None:
    assert reply_status(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, 0.5),
        (0, 0.0),
        (1, 1.0),
        (-0.2, 0.0),
        (1.7, 1.0),
        (HUGE, 1.0),
        (-HUGE, 0.0),
        (1e308, 1.0),
        (NAN, None),
        (INF, None),
        (-INF, None),
        (None, None),
        (True, None),
        ("0.5", None),
    ],
)
def test_progress_is_clamped_when_finite_and_absent_otherwise(value: object, expected: float | None) -> None:
    assert fraction(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0.0), (2.5, 2.5), (1e300, 1e300), (-1, None), (-0.001, None), (NAN, None), (INF, None), (HUGE, None)],
)
def test_seconds_are_finite_and_not_negative(value: object, expected: float | None) -> None:
    assert seconds(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (3, 3), (3.9, 3), (HUGE, HUGE), (-1, None), (-0.5, None), (NAN, None), (-INF, None), (False, None)],
)
def test_counts_are_not_negative(value: object, expected: int | None) -> None:
    assert count(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1_700_000_000_000, 1_700_000_000_000), (0, 0), (-1, None), (HUGE, None), (1e20, None), (NAN, None)],
)
def test_timestamps_are_dates_datetime_can_show(value: object, expected: int | None) -> None:
    assert timestamp_ms(value) == expected


def test_finite() -> None:
    assert finite(1) == 1.0 and finite(-2.5) == -2.5
    assert finite(NAN) is None and finite(HUGE) is None and finite(True) is None and finite("1") is None


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_reply_depth_counts_without_recursion() -> None:
    assert reply_depth(1) == 0
    assert reply_depth([]) == 1
    assert reply_depth({"a": [1, {"b": []}]}) == 4
    assert reply_depth(_nested(10)) == 10
    # Far beyond the recursion limit, and it stops counting past the limit.
    assert reply_depth(_nested(100_000), limit=MAX_REPLY_DEPTH) == MAX_REPLY_DEPTH + 1


# ------------------------------------------------------------ interpret


def _interpret(model: type, body: Any, *, task_id: str | None = None) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.Response(200, content=content, headers={"x-ca-request-id": "REQ-1"})
    parsed: Response[Any] = Response(
        status_code=httpx.codes.OK,
        content=content,
        headers=response.headers,
        parsed=model.from_dict(json.loads(content)),
    )
    call: Call[Any] = Call("op", True, lambda: parsed, lambda: None)  # type: ignore[arg-type,return-value]
    return interpret(call, CallOutcome(parsed=parsed, response=response), task_id=task_id)


def test_status_10_as_a_string_is_a_success() -> None:
    reply = _interpret(ComfyPromptResponse, {"status": "10", "data": {"taskId": "t1", "status": "waiting"}})
    assert isinstance(reply, Reply)
    assert reply.envelope.status == 10


def test_status_20_as_a_string_is_the_services_error() -> None:
    error = _interpret(ComfyPromptResponse, {"status": "20", "errCode": "B_API_ServiceError"})
    assert isinstance(error, APIError) and not isinstance(error, MalformedResponseError)
    assert error.err_code == "B_API_ServiceError"


def test_progress_numbers_are_made_usable() -> None:
    body = b'{"status": 10, "data": {"taskId": "t1", "status": "running", "progress": NaN, "etaRelative": -5,'
    body += b' "lastQueueRemaining": -1, "state": {"step": -2, "maxSteps": Infinity}}}'
    reply = _interpret(ComfyProgressResponse, body, task_id="t1")
    assert isinstance(reply, Reply)
    data = reply.envelope.data
    assert (data.progress, data.eta_relative, data.last_queue_remaining) == (None, None, None)
    assert (data.state.step, data.state.max_steps) == (None, None)
    reply = _interpret(ComfyProgressResponse, {"status": 10, "data": {"status": "running", "progress": 3}})
    assert reply.envelope.data.progress == 1.0


def test_result_numbers_are_made_usable() -> None:
    body = b'{"status": 10, "data": {"taskId": "t1", "status": "succeeded", "taskDuration": -Infinity,'
    body += b' "taskBeginTime": 1e30, "taskEndTime": NaN}}'
    reply = _interpret(ComfyResultResponse, body, task_id="t1")
    data = reply.envelope.data
    assert (data.task_duration, data.task_begin_time, data.task_end_time) == (None, None, None)


def test_submit_estimate_is_made_usable() -> None:
    body = b'{"status": 10, "data": {"taskId": "t1", "estimatedDurationInSeconds": -Infinity}}'
    assert _interpret(ComfyPromptResponse, body).envelope.data.estimated_duration_in_seconds is None


@pytest.mark.parametrize(
    ("model", "body", "where"),
    [
        (ComfyPromptResponse, {"status": 10, "data": [1]}, "data is an array"),
        (ComfyPromptResponse, {"status": 10, "data": "x"}, "data is a string"),
        (ComfyPromptResponse, {"status": 10, "data": {"taskId": 5}}, "data.taskId is a number"),
        (ComfyPromptResponse, {"status": [10], "data": {}}, "status is an array"),
        (ComfyPromptResponse, {"status": True, "data": {}}, "status is a boolean"),
        (ComfyPromptResponse, {"status": 10, "apiInvokeId": {}, "data": {}}, "apiInvokeId is an object"),
        (ComfyProgressResponse, {"status": 10, "data": {"status": ["running"]}}, "data.status is an array"),
        (ComfyProgressResponse, {"status": 10, "data": {"progress": "50%"}}, "data.progress is a string"),
        (ComfyProgressResponse, {"status": 10, "data": {"state": [1]}}, "data.state is an array"),
        (
            ComfyProgressResponse,
            {"status": 10, "data": {"state": {"nodeLabel": 1}}},
            "data.state.nodeLabel is a number",
        ),
        (ComfyResultResponse, {"status": 10, "data": {"result": [1]}}, "data.result is an array"),
        (ComfyResultResponse, {"status": 10, "data": {"images": "x"}}, "data.images is a string"),
        (ComfyResultResponse, {"status": 10, "data": {"imgs_bytes": [1]}}, "data.imgs_bytes[0] is a number"),
        (ComfyResultResponse, {"status": 10, "data": {"result": {"n": _nested(MAX_REPLY_DEPTH)}}}, "nests deeper"),
        (UploadSignResponse, {"status": 10, "data": {"uploadUrl": ["u"]}}, "data.uploadUrl is an array"),
        (UploadSignResponse, {"status": 10, "data": {"uploadUrl": "u", "expireTime": {}}}, "data.expireTime"),
    ],
)
def test_wrong_types_are_malformed_replies(model: type, body: Any, where: str) -> None:
    error = _interpret(model, body, task_id="t9")
    assert isinstance(error, MalformedResponseError), error
    assert where in str(error)
    assert error.request_id == "REQ-1"
    assert error.task_id == "t9"


@pytest.mark.parametrize(
    ("model", "data", "where"),
    [
        (ComfyPromptResponse, {"status": "waiting"}, "data.taskId is missing"),
        (ComfyPromptResponse, {"taskId": "", "status": "waiting"}, "data.taskId is missing"),
        (UploadSignResponse, {"uploadUrl": "u"}, "data.accessUrl is missing"),
        (UploadSignResponse, {"accessUrl": "a"}, "data.uploadUrl is missing"),
    ],
)
def test_required_fields_missing_are_malformed_replies(model: type, data: Any, where: str) -> None:
    error = _interpret(model, {"status": 10, "data": data})
    assert isinstance(error, MalformedResponseError), error
    assert where in str(error)


def test_a_malformed_submit_reply_names_the_task_it_created() -> None:
    error = _interpret(ComfyPromptResponse, {"status": 10, "data": {"taskId": "t7", "status": 3}})
    assert isinstance(error, MalformedResponseError)
    assert error.task_id == "t7"


def test_a_realistic_result_is_well_within_the_depth_limit() -> None:
    result = {"9": {"images": [{"url": "https://x/a.png", "filename": "a.png", "meta": {"seed": [1, 2]}}]}}
    reply = _interpret(ComfyResultResponse, {"status": 10, "data": {"taskId": "t", "result": result}})
    assert isinstance(reply, Reply)
    assert reply_depth(reply.envelope) <= 8


def test_the_latest_timestamp_accepted_is_a_date() -> None:
    from speedpix._core.replies import _TIMESTAMP_MS_LIMIT
    from speedpix._flows.tasks import _datetime_ms

    latest = timestamp_ms(_TIMESTAMP_MS_LIMIT - 1)
    assert latest is not None
    assert _datetime_ms(latest).year == 9999  # type: ignore[union-attr]
    assert timestamp_ms(_TIMESTAMP_MS_LIMIT) is None


def test_every_checked_field_is_a_field_of_its_generated_model() -> None:
    # The checks name fields by their JSON spelling; after a regeneration that renames
    # one, this fails here instead of every reply failing for users.
    import attrs

    from speedpix._core.replies import _FIELDS, _attribute

    for model, checks in _FIELDS.items():
        names = attrs.fields_dict(model)
        for name in checks:
            assert _attribute(name) in names, f"{model.__name__} has no field for {name!r}"
