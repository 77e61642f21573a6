"""Bad input is refused with a clear, typed error before any request is sent.

Every case runs against an emulator and proves, with its counters, that nothing reached
it; every message says what to fix.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import speedpix
from speedpix import ConfigurationError, InvalidInputError
from speedpix.testing import Emulator

from .conftest import PNG_SIGNATURE

pytestmark = pytest.mark.timeout(30)

Action = Callable[[speedpix.Client, Path], Any]

_opened: list[Any] = []  # files a case opens, closed after it


@pytest.fixture(autouse=True)
def _close_opened_files() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _run(inputs: Any, **kwargs: Any) -> Action:
    return lambda client, tmp: client.run("demo-txt2img", inputs, **kwargs)


def _run_file(make: Callable[[Path], Any], **kwargs: Any) -> Action:
    return lambda client, tmp: client.run("demo-echo", {"image": make(tmp)}, **kwargs)


def _png(tmp: Path, size: int = 64, name: str = "a.png") -> Path:
    path = tmp / name
    path.write_bytes(PNG_SIGNATURE + b"\0" * (size - len(PNG_SIGNATURE)))
    return path


def _text_file(tmp: Path) -> Any:
    file = open(_png(tmp), encoding="latin-1")  # noqa: SIM115 (closed by _close_opened_files)
    _opened.append(file)
    return file


def _closed_file(tmp: Path) -> Any:
    file = open(_png(tmp), "rb")  # noqa: SIM115
    file.close()
    return file


def _empty_file(tmp: Path) -> Path:
    path = tmp / "empty.png"
    path.write_bytes(b"")
    return path


def _fifo(tmp: Path) -> Path:
    # Not readable as a file: reading would block forever (chmod 000 does not stop root).
    path = tmp / "pipe.png"
    os.mkfifo(path)
    return path


def _under_a_file(tmp: Path) -> Path:
    # A path through a regular file: ENOTDIR, unreadable whatever the user's rights.
    return _png(tmp) / "child.png"


def _cycle() -> dict[str, Any]:
    inputs: dict[str, Any] = {"prompt": "x"}
    inputs["self"] = inputs
    return inputs


def _list_cycle() -> dict[str, Any]:
    items: list[Any] = []
    items.append(items)
    return {"items": items}


class Opaque:
    pass


# (case id, action, expected class, words the message must contain)
CASES: list[tuple[str, Action, type[Exception], tuple[str, ...]]] = [
    # ---- values that are not JSON
    ("object", _run({"prompt": Opaque()}), InvalidInputError, ("input['prompt']", "Opaque", "not JSON")),
    ("set", _run({"tags": {"a", "b"}}), InvalidInputError, ("input['tags']", "set", "list")),
    ("frozenset", _run({"tags": frozenset({1})}), InvalidInputError, ("input['tags']", "set", "list")),
    ("complex", _run({"cfg": 1 + 2j}), InvalidInputError, ("input['cfg']", "complex")),
    ("nan", _run({"cfg": float("nan")}), InvalidInputError, ("input['cfg']", "NaN")),
    ("inf", _run({"cfg": float("inf")}), InvalidInputError, ("input['cfg']", "infinity")),
    ("-inf nested", _run({"a": [{"b": float("-inf")}]}), InvalidInputError, ("input['a'][0]['b']", "infinity")),
    ("int key", _run({"prompt": "x", 1: "y"}), InvalidInputError, ("keys must be strings", "1")),
    ("tuple key", _run({"n": {(1, 2): "y"}}), InvalidInputError, ("input['n']", "keys must be strings")),
    ("cycle", _run(_cycle()), InvalidInputError, ("input['self']", "cycle")),
    ("list cycle", _run(_list_cycle()), InvalidInputError, ("input['items'][0]", "cycle")),
    ("function", _run({"prompt": print}), InvalidInputError, ("input['prompt']", "not JSON")),
    # ---- input itself
    ("input list", _run(["a prompt"]), InvalidInputError, ("input must be a dict", "list")),
    ("input str", _run("a prompt"), InvalidInputError, ("input must be a dict", "str")),
    ("input set", _run({"a", "b"}), InvalidInputError, ("input must be a dict", "set")),
    # ---- files
    ("missing path", _run_file(lambda tmp: tmp / "nope.png"), InvalidInputError, ("input['image']", "not found")),
    ("directory", _run_file(lambda tmp: tmp), InvalidInputError, ("input['image']", "directory", "give a file")),
    ("empty file", _run_file(_empty_file), InvalidInputError, ("input['image']", "empty")),
    ("fifo", _run_file(_fifo), InvalidInputError, ("input['image']", "not a regular file")),
    ("path under a file", _run_file(_under_a_file), InvalidInputError, ("input['image']", "cannot read")),
    ("text-mode file", _run_file(_text_file), InvalidInputError, ("input['image']", "text mode", "'rb'")),
    ("closed file", _run_file(_closed_file), InvalidInputError, ("input['image']", "closed")),
    ("empty bytes", _run_file(lambda tmp: b""), InvalidInputError, ("input['image']", "empty")),
    ("exhausted BytesIO", _run_file(lambda tmp: _exhausted()), InvalidInputError, ("input['image']", "empty")),
    ("text StringIO", _run_file(lambda tmp: io.StringIO("abc")), InvalidInputError, ("input['image']", "text")),
    (
        "base64 over 1 MB",
        _run_file(lambda tmp: _png(tmp, 1024 * 1024 + 1), file_encoding_strategy="base64"),
        InvalidInputError,
        ("input['image']", "1 MB", "'url'"),
    ),
    (
        "unknown strategy",
        _run({"prompt": "x"}, file_encoding_strategy="b64"),
        InvalidInputError,
        ("'url' or 'base64'",),
    ),
    ("strategy not str", _run({"prompt": "x"}, file_encoding_strategy=None), InvalidInputError, ("'url' or 'base64'",)),
    # ---- ids and flags
    ("empty workflow_id", lambda c, t: c.run("", {"prompt": "x"}), InvalidInputError, ("workflow_id", "non-empty")),
    ("blank workflow_id", lambda c, t: c.run("  ", {"prompt": "x"}), InvalidInputError, ("workflow_id", "non-empty")),
    ("int workflow_id", lambda c, t: c.run(42, {"prompt": "x"}), InvalidInputError, ("workflow_id", "string")),
    ("None workflow_id", lambda c, t: c.run(None, {"prompt": "x"}), InvalidInputError, ("workflow_id", "string")),
    (
        "both alias and version",
        _run({"prompt": "x"}, alias_id="main", version_id="v1"),
        InvalidInputError,
        ("alias_id or version_id", "not both"),
    ),
    ("empty alias_id", _run({"prompt": "x"}, alias_id=""), InvalidInputError, ("alias_id", "non-empty")),
    ("int version_id", _run({"prompt": "x"}, version_id=1), InvalidInputError, ("version_id", "string")),
    (
        "empty resource_config_id",
        _run({"prompt": "x"}, resource_config_id=""),
        InvalidInputError,
        ("resource_config_id",),
    ),
    (
        "randomise_seeds str",
        _run({"prompt": "x"}, randomise_seeds="yes"),
        InvalidInputError,
        ("randomise_seeds", "True or False"),
    ),
    (
        "return_temp_files int",
        _run({"prompt": "x"}, return_temp_files=1),
        InvalidInputError,
        ("return_temp_files", "True or False"),
    ),
    ("wait str", _run({"prompt": "x"}, wait="no"), InvalidInputError, ("wait", "True or False")),
    ("on_progress not callable", _run({"prompt": "x"}, on_progress=3), InvalidInputError, ("on_progress", "callable")),
    # ---- timeouts and intervals
    ("zero timeout", _run({"prompt": "x"}, timeout=0), InvalidInputError, ("timeout", "positive")),
    ("negative timeout", _run({"prompt": "x"}, timeout=-1), InvalidInputError, ("timeout", "positive")),
    ("nan timeout", _run({"prompt": "x"}, timeout=float("nan")), InvalidInputError, ("timeout", "positive")),
    ("str timeout", _run({"prompt": "x"}, timeout="10"), InvalidInputError, ("timeout", "positive")),
    ("bool timeout", _run({"prompt": "x"}, timeout=True), InvalidInputError, ("timeout", "positive")),
    ("zero interval", _run({"prompt": "x"}, polling_interval=0), InvalidInputError, ("polling_interval", "positive")),
    (
        "negative interval",
        _run({"prompt": "x"}, polling_interval=-0.5),
        InvalidInputError,
        ("polling_interval", "positive"),
    ),
    ("get empty id", lambda c, t: c.predictions.get(""), InvalidInputError, ("prediction_id", "non-empty")),
    ("get int id", lambda c, t: c.predictions.get(7), InvalidInputError, ("prediction_id", "string")),
    # ---- files.create
    (
        "files.create content_type int",
        lambda c, t: c.files.create(_png(t), content_type=5),
        InvalidInputError,
        ("content_type", "MIME type"),
    ),
    (
        "files.create content_type no slash",
        lambda c, t: c.files.create(_png(t), content_type="png"),
        InvalidInputError,
        ("content_type", "image/png"),
    ),
    ("files.create int", lambda c, t: c.files.create(12), InvalidInputError, ("file path", "int")),
    ("files.create missing", lambda c, t: c.files.create(t / "gone.png"), InvalidInputError, ("not found",)),
    ("files.create timeout", lambda c, t: c.files.create(_png(t), timeout=-2), InvalidInputError, ("timeout",)),
]


def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def _exhausted() -> io.BytesIO:
    stream = io.BytesIO(b"data")
    stream.read()
    return stream


CASES.append(("deeply nested", _run({"a": _deep(100_000)}), InvalidInputError, ("nested too deeply",)))


def _check(error: BaseException, cls: type[Exception], words: tuple[str, ...]) -> None:
    assert isinstance(error, cls), repr(error)
    assert isinstance(error, speedpix.SpeedPixException)
    text = str(error)
    for word in words:
        assert word.lower() in text.lower(), f"{word!r} not in {text!r}"


@pytest.mark.parametrize(("name", "action", "cls", "words"), CASES, ids=[c[0] for c in CASES])
def test_refused_before_any_request(
    name: str,
    action: Action,
    cls: type[Exception],
    words: tuple[str, ...],
    speedpix_emulator_session: Emulator,
    tmp_path: Path,
) -> None:
    emu = speedpix_emulator_session
    client = emu.client()
    with pytest.raises(Exception) as caught:
        action(client, tmp_path)
    _check(caught.value, cls, words)
    assert sum(emu.stats.requests_by_path.values()) == 0
    assert emu.requests == []


ASYNC_CASES = [
    ("set", lambda c, t: c.async_run("demo-txt2img", {"tags": {1}}), ("input['tags']", "set")),
    ("missing path", lambda c, t: c.async_run("demo-echo", {"image": t / "nope.png"}), ("not found",)),
    ("closed file", lambda c, t: c.async_run("demo-echo", {"image": _closed_file(t)}), ("closed",)),
    ("both ids", lambda c, t: c.async_run("w", {}, alias_id="a", version_id="v"), ("not both",)),
    ("zero timeout", lambda c, t: c.async_run("w", {}, timeout=0), ("timeout",)),
    ("get empty id", lambda c, t: c.predictions.async_get(""), ("prediction_id",)),
    ("files empty", lambda c, t: c.files.async_create(b""), ("empty",)),
    ("wait interval", lambda c, t: _created(c).async_wait(polling_interval=0), ("polling_interval",)),
]


def _created(client: speedpix.Client) -> speedpix.Prediction:
    return speedpix.Prediction(client._handle, "task-that-does-not-exist")


@pytest.mark.parametrize(("name", "action", "words"), ASYNC_CASES, ids=[c[0] for c in ASYNC_CASES])
def test_async_twins_refuse_the_same(
    name: str, action: Any, words: tuple[str, ...], speedpix_emulator_session: Emulator, tmp_path: Path
) -> None:
    emu = speedpix_emulator_session
    client = emu.client()
    with pytest.raises(InvalidInputError) as caught:
        asyncio.run(action(client, tmp_path))
    _check(caught.value, InvalidInputError, words)
    assert sum(emu.stats.requests_by_path.values()) == 0


# ---- client configuration: refused at construction, so nothing can be sent

CONFIG_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("endpoint no host", {"endpoint": "https://"}, ("endpoint",)),
    ("endpoint ftp", {"endpoint": "ftp://example.com"}, ("http(s)",)),
    ("endpoint spaces", {"endpoint": "https://exa mple.com"}, ("endpoint",)),
    ("endpoint query", {"endpoint": "https://example.com/?a=1"}, ("query",)),
    ("endpoint int", {"endpoint": 8080}, ("endpoint",)),
    ("empty app key", {"app_key": ""}, ("app key", "SPEEDPIX_APP_KEY")),
    ("empty secret", {"app_secret": ""}, ("app secret", "SPEEDPIX_APP_SECRET")),
    ("int app key", {"app_key": 123}, ("strings",)),
    ("zero timeout", {"timeout": 0}, ("timeout", "positive")),
    ("negative timeout", {"timeout": -5}, ("timeout", "positive")),
    ("str timeout", {"timeout": "30"}, ("timeout", "positive")),
    ("zero wait_timeout", {"wait_timeout": 0}, ("wait_timeout", "positive")),
    ("negative transfer_timeout", {"transfer_timeout": -1.0}, ("transfer_timeout", "positive")),
    ("negative max_retries", {"max_retries": -1}, ("max_retries", ">= 0")),
    ("float max_retries", {"max_retries": 1.5}, ("max_retries", "integer")),
    ("bool max_retries", {"max_retries": True}, ("max_retries", "integer")),
    ("negative retry_delay", {"retry_delay": -0.1}, ("retry_delay",)),
    ("huge retry_delay", {"retry_delay": 600}, ("retry_delay",)),
    ("detect_file_paths str", {"detect_file_paths": "no"}, ("detect_file_paths", "True or False")),
]


@pytest.mark.parametrize(("name", "overrides", "words"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_client_configuration(
    name: str,
    overrides: dict[str, Any],
    words: tuple[str, ...],
    speedpix_emulator_session: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu = speedpix_emulator_session
    for variable in ("SPEEDPIX_APP_KEY", "SPEEDPIX_APP_SECRET", "SPEEDPIX_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    kwargs: dict[str, Any] = {"app_key": emu.app_key, "app_secret": emu.app_secret, "endpoint": emu.endpoint}
    kwargs.update(overrides)
    with pytest.raises(InvalidInputError) as caught:
        speedpix.Client(**kwargs)
    _check(caught.value, InvalidInputError, words)
    if name.startswith(("endpoint", "empty", "int app")):
        assert isinstance(caught.value, ConfigurationError)
    assert sum(emu.stats.requests_by_path.values()) == 0


def test_the_table_is_big_enough() -> None:
    assert len(CASES) + len(ASYNC_CASES) + len(CONFIG_CASES) >= 30
