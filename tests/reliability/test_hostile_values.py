"""Property tests: a hostile gateway's values, through real loopback sockets (issue 20, item 1).

Every reply of each call — submit (comfy_prompt), progress, result, upload sign — is
fuzzed with arbitrary JSON: NaN and infinities, huge and negative numbers, wrong types at
every level of the envelope, nesting deep enough to exhaust the recursion limit. Sync and
async alike, the only exceptions out of ``run()``, ``predictions.get()`` and
``files.create()`` are SpeedPixException subclasses; a progress callback only ever sees
usable values, and ``ProgressDisplay`` never raises.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import speedpix
from speedpix import SpeedPixException
from speedpix._apps.saving import iter_output_files
from speedpix.progress import ProgressDisplay

from ..hostile._server import HostileServer, Reply, Request
from .conftest import FAST, collections_short_of_stack, drive

pytestmark = pytest.mark.timeout(300)

SUBMIT = "/scc/comfy_prompt"
PROGRESS = "/scc/comfy_get_progress"
RESULT = "/scc/comfy_get_result"
SIGN = "/scc/sp_create_temp_file_upload_sign"
MODES = ["sync", "async"]
EXAMPLES = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))

# ------------------------------------------------------------ strategies

hostile_numbers = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 10**400, -(10**400), -1, -0.5, 1e308, 2**63]),
    st.integers(),
    st.floats(),  # NaN and infinities included
)
scalars = st.one_of(st.none(), st.booleans(), hostile_numbers, st.text(max_size=10))
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)


class Deep:
    """JSON nested ``depth`` levels, written as text (json.dumps would itself recurse)."""

    def __init__(self, depth: int, leaf: str) -> None:
        self.depth, self.leaf = depth, leaf

    def text(self) -> str:
        half = self.depth // 2
        return '{"a": [' * half + self.leaf + "]}" * half

    def __repr__(self) -> str:
        return f"Deep({self.depth})"


deep = st.builds(Deep, st.sampled_from([40, 70, 500, 900, 1200, 5000, 100_000]), st.sampled_from(["1", '"x"', "{}"]))
anything = st.one_of(json_values, deep)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes anything at all."""
    return st.one_of(valid, valid, anything)


def fields(**values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with some of these fields (each perhaps hostile), and perhaps an extra one."""
    return st.fixed_dictionaries({}, optional={key: maybe(value) for key, value in values.items()}).flatmap(
        lambda d: st.one_of(st.just(d), st.builds(lambda k, v: {**d, k: v}, st.text(max_size=5), anything))
    )


def envelope(data: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    fields_of = st.fixed_dictionaries(
        {"status": maybe(st.sampled_from([10, "10", 10.0, 20, "20"])), "data": maybe(data)},
        optional={
            "apiInvokeId": maybe(st.just("i_1")),
            "errCode": maybe(st.sampled_from(["B_API_ServiceError", "B_API_CauseFlowControl"])),
            "errMessage": maybe(st.text(max_size=10)),
            "subErrCode": maybe(st.text(max_size=10)),
            "subErrMessage": maybe(st.text(max_size=10)),
        },
    )
    return st.one_of(fields_of, fields_of, anything)  # sometimes no envelope at all


statuses = st.sampled_from(["waiting", "running", "succeeded", "failed", "SUCCESS", "weird"])
numbers = st.one_of(st.floats(0, 1), hostile_numbers)

prompt_replies = envelope(
    fields(taskId=st.just("t1"), status=statuses, estimatedDurationInSeconds=numbers),
)
progress_replies = envelope(
    fields(
        taskId=st.just("t1"),
        status=statuses,
        progress=numbers,
        lastQueueRemaining=numbers,
        etaRelative=numbers,
        message=st.text(max_size=10),
        state=fields(nodeLabel=st.text(max_size=5), step=numbers, maxSteps=numbers),
    )
)
result_node = st.fixed_dictionaries({"url": st.just("https://files.invalid/a.png")}, optional={"filename": anything})
result_replies = envelope(
    fields(
        taskId=st.just("t1"),
        status=st.sampled_from(["succeeded", "failed", "success"]),
        taskDuration=numbers,
        taskBeginTime=numbers,
        taskEndTime=numbers,
        images=st.lists(result_node, max_size=2),
        result=st.dictionaries(st.text(max_size=3), st.one_of(result_node, anything), max_size=3),
        info=st.dictionaries(st.text(max_size=3), anything, max_size=2),
        imgs_bytes=st.lists(st.text(max_size=5), max_size=2),
    )
)


def _body(value: Any) -> bytes:
    if isinstance(value, Deep):
        return value.text().encode()
    # Replace any Deep inside by a placeholder, then splice its text in.
    deeps: list[Deep] = []

    def encode(item: Any) -> Any:
        if isinstance(item, Deep):
            deeps.append(item)
            return f"@@DEEP{len(deeps) - 1}@@"
        if isinstance(item, dict):
            return {k: encode(v) for k, v in item.items()}
        if isinstance(item, list):
            return [encode(v) for v in item]
        return item

    text = json.dumps(encode(value))  # NaN and Infinity written as Python's json reads them
    for index, item in enumerate(deeps):
        text = text.replace(f'"@@DEEP{index}@@"', item.text())
    return text.encode()


# ------------------------------------------------------------ the hostile gateway


def _json(body: bytes) -> Reply:
    return Reply(200, [("content-type", "application/json"), ("x-ca-request-id", "HOSTILE-1")], body)


GOOD_SUBMIT = _body({"status": 10, "data": {"taskId": "t1", "status": "waiting", "estimatedDurationInSeconds": 0.01}})
GOOD_PROGRESS = _body({"status": 10, "data": {"taskId": "t1", "status": "succeeded", "progress": 1}})
GOOD_RESULT = _body({"status": 10, "data": {"taskId": "t1", "status": "succeeded", "result": {"9": {"text": "ok"}}}})


class Script:
    """What the gateway answers: each path's bodies in turn, the last one repeated."""

    def __init__(self, server: HostileServer) -> None:
        self.replies: dict[str, list[bytes]] = {}
        for path in (SUBMIT, PROGRESS, RESULT, SIGN):
            server.route(path, self._answer)
        server.route("/upload", Reply(200))

    def set(self, **bodies: list[bytes]) -> None:
        self.replies = {
            SUBMIT: [GOOD_SUBMIT],
            PROGRESS: [GOOD_PROGRESS],
            RESULT: [GOOD_RESULT],
            SIGN: [],
            **{globals()[name.upper()]: list(value) for name, value in bodies.items()},
        }

    def _answer(self, request: Request) -> Reply:
        bodies = self.replies[request.path]
        return _json(bodies.pop(0) if len(bodies) > 1 else bodies[0])


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[HostileServer, Script]]:
    with HostileServer() as server:
        yield server, Script(server)


@pytest.fixture(scope="module")
def client(gateway: tuple[HostileServer, Script]) -> Iterator[speedpix.Client]:
    server, _ = gateway
    with speedpix.Client("hostile-key", "hostile-secret", endpoint=server.origin, **FAST) as c:
        yield c


class Watcher:
    """An on_progress callback that records what it is shown, and a ProgressDisplay
    on a terminal and on a plain stream that shows it."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, Any, Any]] = []
        self.displays = [ProgressDisplay(io.StringIO(), tty=True), ProgressDisplay(io.StringIO(), tty=False)]

    def __call__(self, prediction: speedpix.Prediction) -> None:
        self.seen.append((prediction.progress, prediction.eta, prediction.queue_position))
        # What the polling schedule reads of the submission's estimate: never NaN.
        estimate = prediction.estimated_duration
        assert estimate is None or 0.0 <= estimate < float("inf"), estimate
        for display in self.displays:
            display(prediction)

    def check(self) -> None:
        for progress, eta, queue in self.seen:
            assert progress is None or (isinstance(progress, float) and 0.0 <= progress <= 1.0), progress
            assert eta is None or (isinstance(eta, float) and 0.0 <= eta < float("inf")), eta
            assert queue is None or (isinstance(queue, int) and queue >= 0), queue


def _walk(output: Any) -> None:
    """What a user does with an output: the SDK's walkers must not fail on it."""
    list(iter_output_files(output))
    repr(output)


def _run(mode: str, client: speedpix.Client, watcher: Watcher | None = None) -> Any:
    kwargs: dict[str, Any] = {"polling_interval": 0.001, "timeout": 20}
    if watcher is not None:
        kwargs["on_progress"] = watcher
    return drive(mode, lambda: client.run("wf", {}, **kwargs), lambda: client.async_run("wf", {}, **kwargs))


def _get(mode: str, client: speedpix.Client) -> speedpix.Prediction:
    return drive(mode, lambda: client.predictions.get("t1"), lambda: client.predictions.async_get("t1"))


# ------------------------------------------------------------ the properties


@pytest.mark.parametrize("mode", MODES)
@EXAMPLES
@given(reply=prompt_replies)
def test_hostile_submit_replies(mode: str, client: speedpix.Client, gateway: Any, reply: Any) -> None:
    gateway[1].set(submit=[_body(reply)])
    watcher = Watcher()
    with contextlib.suppress(SpeedPixException):
        _walk(_run(mode, client, watcher))
    watcher.check()


@pytest.mark.parametrize("mode", MODES)
@EXAMPLES
@given(reply=progress_replies)
def test_hostile_progress_replies(mode: str, client: speedpix.Client, gateway: Any, reply: Any) -> None:
    gateway[1].set(progress=[_body(reply), GOOD_PROGRESS])
    watcher = Watcher()
    with contextlib.suppress(SpeedPixException):
        _walk(_run(mode, client, watcher))
    watcher.check()
    gateway[1].set(progress=[_body(reply)])
    try:
        prediction = _get(mode, client)
    except SpeedPixException:
        return
    watcher(prediction)
    watcher.check()


@pytest.mark.parametrize("mode", MODES)
@EXAMPLES
@given(reply=result_replies)
def test_hostile_result_replies(mode: str, client: speedpix.Client, gateway: Any, reply: Any) -> None:
    gateway[1].set(result=[_body(reply)])
    with contextlib.suppress(SpeedPixException):
        _walk(_run(mode, client))
    try:
        prediction = _get(mode, client)
    except SpeedPixException:
        return
    _walk(prediction.output)
    _walk(prediction.images)
    if prediction.result_data is not None:
        prediction.result_data.to_dict()
    repr(prediction.started_at), repr(prediction.completed_at), repr(prediction.duration_ms)


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("in") / "in.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    return path


@pytest.mark.parametrize("mode", MODES)
@EXAMPLES
@given(data=st.data())
def test_hostile_upload_sign_replies(mode: str, client: speedpix.Client, gateway: Any, png: Path, data: Any) -> None:
    server, script = gateway
    # The upload URL is ours or not a string: a fuzzed text must not send the file elsewhere.
    url = st.sampled_from([server.url("/upload"), server.url("/upload?x=1")])
    sign = envelope(
        st.fixed_dictionaries(
            {},
            optional={
                "uploadUrl": st.one_of(url, url, json_values.filter(lambda v: not isinstance(v, str)), deep),
                "accessUrl": maybe(url),
                "path": maybe(st.text(max_size=5)),
                "objectKey": maybe(st.text(max_size=5)),
                "expireTime": maybe(st.one_of(st.integers(), st.text(max_size=5))),
            },
        )
    )
    script.set(sign=[_body(data.draw(sign))])
    with contextlib.suppress(SpeedPixException):
        drive(mode, lambda: client.files.create(png), lambda: client.files.async_create(png))


# ------------------------------------------------------------ the cases of the issue, by name


@pytest.mark.parametrize("mode", MODES)
def test_nan_progress_reaches_neither_callback_nor_display(mode: str, client: speedpix.Client, gateway: Any) -> None:
    nan = b'{"status": 10, "data": {"taskId": "t1", "status": "running", "progress": NaN,'
    nan += b' "etaRelative": -Infinity, "lastQueueRemaining": -3}}'
    waiting = (
        b'{"status": 10, "data": {"taskId": "t1", "status": "waiting", "lastQueueRemaining": -3, "etaRelative": NaN}}'
    )
    gateway[1].set(progress=[waiting, nan, GOOD_PROGRESS])
    watcher = Watcher()
    assert _run(mode, client, watcher) == {"9": {"text": "ok"}}
    watcher.check()
    assert (None, None, None) in watcher.seen


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("depth", [70, 900, 5000, 200_000])
def test_a_result_nested_too_deep_is_a_typed_error(
    mode: str, client: speedpix.Client, gateway: Any, depth: int
) -> None:
    result = b'{"status": 10, "data": {"taskId": "t1", "status": "succeeded", "result": {"n": '
    result += Deep(depth, "1").text().encode() + b"}}}"
    gateway[1].set(result=[result])
    with pytest.raises(speedpix.MalformedResponseError) as caught:
        _run(mode, client)
    assert caught.value.request_id == "HOSTILE-1"
    assert caught.value.task_id == "t1"
    with pytest.raises(speedpix.MalformedResponseError):
        _get(mode, client)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["submit", "progress", "result", "sign"])
def test_a_body_nested_thousands_deep_is_refused_unparsed(
    mode: str, client: speedpix.Client, gateway: Any, png: Path, path: str
) -> None:
    """Parsed, it would take the stack to the interpreter's limit, where whatever ran
    meanwhile would fail: here a garbage collection's callback that needs 200 frames."""
    deep_body = _body({"status": 10, "data": {"taskId": "t1", "uploadUrl": "x", "x": Deep(100_000, "1")}})
    gateway[1].set(**{path: [deep_body]})
    with (
        collections_short_of_stack(200) as short,
        pytest.raises(speedpix.MalformedResponseError, match="nests deeper than 256 levels") as caught,
    ):
        if path == "sign":
            drive(mode, lambda: client.files.create(png), lambda: client.files.async_create(png))
        else:
            _run(mode, client)
    assert short == []
    assert caught.value.request_id == "HOSTILE-1"
    if path in ("progress", "result"):
        assert caught.value.task_id == "t1"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", ["submit", "progress", "result", "sign"])
@pytest.mark.parametrize("data", [[1], "x", 5])
def test_data_that_is_not_an_object_is_a_typed_error(
    mode: str, client: speedpix.Client, gateway: Any, png: Path, path: str, data: Any
) -> None:
    gateway[1].set(**{path: [_body({"status": 10, "data": data})]})
    with pytest.raises(speedpix.MalformedResponseError, match="data is"):
        if path == "sign":
            drive(mode, lambda: client.files.create(png), lambda: client.files.async_create(png))
        else:
            _run(mode, client)


@pytest.mark.parametrize("mode", MODES)
def test_status_10_as_a_string_is_a_success(mode: str, client: speedpix.Client, gateway: Any) -> None:
    quoted = [_body({**json.loads(body), "status": "10"}) for body in (GOOD_SUBMIT, GOOD_PROGRESS, GOOD_RESULT)]
    gateway[1].set(submit=quoted[:1], progress=quoted[1:2], result=quoted[2:])
    assert _run(mode, client) == {"9": {"text": "ok"}}
