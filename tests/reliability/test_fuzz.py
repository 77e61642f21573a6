"""Property tests: the input walker, and our signer against the emulator's verifier."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speedpix import InvalidInputError
from speedpix._core.inputs import MAX_INPUT_DEPTH, Slot, fill_slots, resolve_files, walk_inputs
from speedpix._core.signing import signature_headers
from speedpix.testing import Emulator

from .conftest import collections_short_of_stack

pytestmark = pytest.mark.timeout(60)

# JSON values as users write them: no file-looking strings needed, any unicode.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
inputs = st.dictionaries(st.text(max_size=10), json_values, max_size=6)


@settings(max_examples=150, deadline=None)
@given(inputs)
def test_json_inputs_round_trip_unchanged(value: dict[str, Any]) -> None:
    plan = resolve_files(walk_inputs(value, detect_file_paths=False))
    assert plan.sources == []
    filled = fill_slots(plan.value, [])
    assert filled == value
    assert json.loads(json.dumps(filled, allow_nan=False)) == json.loads(json.dumps(value))


class Weird:
    def __repr__(self) -> str:
        return "Weird()"


bad_leaves = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=10),
    st.sets(st.integers(), max_size=3),
    st.frozensets(st.integers(), max_size=3),
    st.builds(Weird),
    st.builds(object),
    st.just(print),
    st.dictionaries(st.integers(), st.none(), min_size=1, max_size=2),  # non-string keys
)


@st.composite
def inputs_with_one_bad_leaf(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    value = draw(inputs)
    path: list[str] = []
    holder: Any = value
    # Walk down a random existing branch, then plant the bad value there.
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        containers = [(k, v) for k, v in (holder.items() if isinstance(holder, dict) else enumerate(holder))
                      if isinstance(v, dict | list)]  # fmt: skip
        if not containers:
            break
        key, child = draw(st.sampled_from(containers))
        path.append(f"[{key!r}]" if isinstance(holder, dict) else f"[{key}]")
        holder = child
    bad = draw(bad_leaves)
    if isinstance(holder, dict):
        key = draw(st.text(max_size=5))
        holder[key] = bad
        path.append(f"[{key!r}]")
    else:
        holder.append(bad)
        path.append(f"[{len(holder) - 1}]")
    return value, path


@settings(max_examples=150, deadline=None)
@given(inputs_with_one_bad_leaf())
def test_non_json_values_are_refused_with_their_place(case: tuple[dict[str, Any], list[str]]) -> None:
    value, path = case
    with pytest.raises(InvalidInputError) as caught:
        resolve_files(walk_inputs(value, detect_file_paths=False))
    # The message names where the bad value is (or its container, for bad keys).
    assert str(caught.value).startswith("input")
    assert "input" + "".join(path[:-1]) in str(caught.value)


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for level in range(levels):  # the outermost a dict, as an input is
        value = {"k": value} if (levels - level) % 2 else [value]
    return value


def test_nesting_is_refused_past_its_limit_far_from_the_stacks() -> None:
    assert fill_slots(walk_inputs(_nested(MAX_INPUT_DEPTH)).value, []) == _nested(MAX_INPUT_DEPTH)
    with pytest.raises(InvalidInputError, match=f"nested too deeply: more than {MAX_INPUT_DEPTH} levels"):
        walk_inputs(_nested(MAX_INPUT_DEPTH + 1))
    # However deep the input, the walk stops early: a garbage collection that runs during it
    # still has the stack to call what it must (here, 300 frames deep).
    with collections_short_of_stack(300) as short, pytest.raises(InvalidInputError, match="nested too deeply"):
        walk_inputs(_nested(100_000))
    assert short == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=4))
def test_files_become_slots_and_are_put_back_in_place(blobs: list[bytes]) -> None:
    value = {f"f{i}": blob for i, blob in enumerate(blobs)} | {"nested": [{"x": blobs[0]}], "n": 1}
    plan = resolve_files(walk_inputs(value))
    assert all(isinstance(plan.value[f"f{i}"], Slot) for i in range(len(blobs)))
    urls = [f"https://files.example/{i}" for i in range(len(plan.sources))]
    filled = fill_slots(plan.value, urls)
    assert filled["n"] == 1
    assert filled["nested"][0]["x"] == filled["f0"]  # the same object, one upload
    for i, blob in enumerate(blobs):
        assert filled[f"f{i}"] == urls[plan.value[f"f{i}"].index]
        assert plan.sources[plan.value[f"f{i}"].index].read_all() == blob


# ------------------------------------------------------------ signer vs the emulator's verifier


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


PATHS = [
    "/scc/comfy_get_progress",
    "/scc/comfy_get_result",
    "/scc/comfy_prompt",
    "/scc/sp_create_temp_file_upload_sign",
]


def _send(emu: Emulator, http: httpx.Client, path: str, body: bytes, mutate: Any = None) -> httpx.Response:
    headers, _ = signature_headers(
        app_key=emu.app_key, app_secret=emu.app_secret, method="POST", url_path=path, url_query="", body=body
    )
    if mutate is not None:
        mutate(headers)
    return http.post(emu.endpoint + path, content=body, headers=headers)


def _accepted(response: httpx.Response) -> bool:
    """Past the gateway: any answer in the JSON envelope (the service may still refuse the body)."""
    return response.status_code == 200 and "x-ca-error-message" not in response.headers


bodies = st.one_of(
    json_values.map(lambda v: json.dumps({"taskId": "t", "payload": v}, ensure_ascii=False).encode()),
    json_values.map(lambda v: json.dumps({"payload": v}, ensure_ascii=True, indent=2).encode()),
    st.text(max_size=200).map(lambda t: json.dumps({"text": t}, ensure_ascii=False).encode("utf-8")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), body=bodies)
def test_our_signature_is_accepted(emulator: Emulator, http: httpx.Client, path: str, body: bytes) -> None:
    response = _send(emulator, http, path, body)
    assert _accepted(response), (response.status_code, response.headers.get("x-ca-error-message"))


def _flip(signature: str, position: int) -> str:
    chars = list(signature)
    index = position % (len(chars) - 1)  # never the trailing '=' padding
    chars[index] = "A" if chars[index] != "A" else "B"
    return "".join(chars)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), body=bodies, position=st.integers(min_value=0, max_value=100))
def test_a_mutated_signature_is_refused(
    emulator: Emulator, http: httpx.Client, path: str, body: bytes, position: int
) -> None:
    def mutate(headers: dict[str, str]) -> None:
        headers["x-ca-signature"] = _flip(headers["x-ca-signature"], position)

    response = _send(emulator, http, path, body, mutate)
    assert response.status_code == 400
    assert response.headers["x-ca-error-message"].startswith("Invalid Signature")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, extra=st.binary(min_size=1, max_size=8))
def test_a_body_changed_after_signing_is_refused(
    emulator: Emulator, http: httpx.Client, body: bytes, extra: bytes
) -> None:
    headers, _ = signature_headers(
        app_key=emulator.app_key,
        app_secret=emulator.app_secret,
        method="POST",
        url_path=PATHS[0],
        url_query="",
        body=body,
    )
    response = http.post(emulator.endpoint + PATHS[0], content=body + extra, headers=headers)
    assert response.status_code == 400
    assert response.headers["x-ca-error-message"] == "Invalid Content-MD5"


def test_float_edge_values_survive_the_walker() -> None:
    value = {"tiny": 5e-324, "big": 1.7976931348623157e308, "neg0": -0.0}
    assert fill_slots(resolve_files(walk_inputs(value)).value, []) == value
    assert math.copysign(1, fill_slots(resolve_files(walk_inputs(value)).value, [])["neg0"]) == -1
