"""The façade against the emulator over loopback, each behaviour in sync and async."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import speedpix
from speedpix import Client, FileNode, FileOutput, Prediction, PredictionError, PredictionTimeoutError
from speedpix.testing import Emulator
from speedpix_api.api.predictions import comfy_get_progress
from speedpix_api.models import TaskIdRequest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[Client]:
    emu.reset()
    with emu.client() as c:
        yield c


MODES = ["sync", "async"]


def call(mode: str, obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """obj.name(...) in sync mode, asyncio.run(obj.async_name(...)) in async mode."""
    if mode == "sync":
        return getattr(obj, name)(*args, **kwargs)
    return asyncio.run(getattr(obj, f"async_{name}")(*args, **kwargs))


@pytest.mark.parametrize("mode", MODES)
def test_run_returns_file_outputs_that_save_and_read(mode: str, client: Client, tmp_path: Path) -> None:
    output = call(mode, client, "run", "demo-txt2img", {"prompt": "a red fox", "width": 64, "height": 32})
    node = output["images"]
    assert isinstance(node, FileNode) and isinstance(node["url"], FileOutput)
    assert node["url"].startswith("http://127.0.0.1")
    assert json.loads(json.dumps(output))["images"]["width"] == 64  # still plain JSON
    data = call(mode, node["url"], "read")
    assert data.startswith(b"\x89PNG")
    saved = call(mode, node, "save", tmp_path / "fox.png")
    assert saved.read_bytes() == data
    into_dir = call(mode, node["url"], "save", tmp_path)
    assert into_dir.parent == tmp_path and into_dir.read_bytes() == data
    assert b"".join(node["url"]) == data  # chunk iteration
    assert not list(tmp_path.glob(".*.part"))  # atomic writes leave no temp files


@pytest.mark.parametrize("mode", MODES)
def test_on_progress_is_called_on_changes(mode: str, client: Client, emu: Emulator) -> None:
    emu.configure("demo-txt2img", duration=0.6, queue_time=0.2)
    seen: list[tuple[str, float | None, int | None]] = []
    try:
        call(
            mode,
            client,
            "run",
            "demo-txt2img",
            {"prompt": "p"},
            on_progress=lambda p: seen.append((p.status, p.progress, p.queue_position)),
        )
    finally:
        emu.configure("demo-txt2img", duration=0.05, queue_time=0.0)
    assert seen[-1][0] == "succeeded" and seen[-1][1] == 1.0
    assert len(seen) == len(set(seen))  # called only when something changed


def test_on_progress_shows_the_queue_and_the_progress_of_a_7_s_task(client: Client, emu: Emulator) -> None:
    # 1 s queued, 6 s running: polled at least once a second, the callback sees it
    # waiting, then running several times, then finished (without a listener the
    # schedule would poll about twice: an early probe and the aimed finish).
    emu.configure("demo-txt2img", queue_time=1.0, duration=6.0)
    seen: list[tuple[str, float | None, int | None]] = []
    try:
        client.run(
            "demo-txt2img", {"prompt": "p"}, on_progress=lambda p: seen.append((p.status, p.progress, p.queue_position))
        )
    finally:
        emu.configure("demo-txt2img", duration=0.05, queue_time=0.0)
    statuses = [status for status, _, _ in seen]
    assert statuses[0] == "waiting", seen
    assert statuses.count("running") >= 4, seen
    assert statuses[-1] == "succeeded", seen
    running = [progress for status, progress, _ in seen if status == "running"]
    assert running == sorted(running) and len(set(running)) == len(running), seen
    polls = emu.stats.requests_by_path["/scc/comfy_get_progress"]
    assert 6 <= polls <= 10, polls  # about one a second: 7 s of task, not one every 50 ms


def test_async_on_progress_callback_is_awaited(client: Client) -> None:
    seen: list[str] = []

    async def on_progress(prediction: Prediction) -> None:
        seen.append(prediction.status)

    asyncio.run(client.async_run("demo-txt2img", {"prompt": "p"}, on_progress=on_progress))
    assert seen[-1] == "succeeded"


@pytest.mark.parametrize("mode", MODES)
def test_wait_false_then_wait_and_get(mode: str, client: Client, emu: Emulator) -> None:
    prediction = call(mode, client, "run", "demo-txt2img", {"prompt": "later"}, wait=False)
    assert isinstance(prediction, Prediction) and prediction.id and not prediction.done
    resumed = call(mode, client.predictions, "get", prediction.id)
    assert resumed.id == prediction.id
    call(mode, prediction, "wait")
    assert prediction.status == "succeeded" and prediction.output["images"]["url"]
    assert prediction.invoke_id and prediction.completed_at is not None
    again = call(mode, client.predictions, "get", prediction.id)
    assert again.status == "succeeded" and again.output == prediction.output
    assert emu.stats.tasks_created == 1


@pytest.mark.parametrize("mode", MODES)
def test_failed_task_raises_prediction_error_with_the_prediction(mode: str, client: Client, emu: Emulator) -> None:
    emu.register("always-fails", lambda ctx, inputs: {}, fail=lambda inputs: "CUDA out of memory")
    with pytest.raises(PredictionError) as caught:
        call(mode, client, "run", "always-fails", {"x": 1})
    prediction = caught.value.prediction
    assert prediction is not None and prediction.status == "failed"
    assert "CUDA out of memory" in (prediction.error or "") and "CUDA out of memory" in str(caught.value)
    assert caught.value.task_id == prediction.id
    # predictions.create + wait reports the failure without raising
    created = call(mode, client.predictions, "create", "always-fails", {"x": 1})
    call(mode, created, "wait")
    assert created.status == "failed" and created.error


@pytest.mark.parametrize("mode", MODES)
def test_wait_timeout_raises_with_a_resumable_prediction(mode: str, client: Client, emu: Emulator) -> None:
    emu.register("slow", lambda ctx, inputs: {"text": "done"}, duration=1.0)
    with pytest.raises(PredictionTimeoutError) as caught:
        call(mode, client, "run", "slow", {}, timeout=0.3)
    prediction = caught.value.prediction
    assert prediction is not None and prediction.id in str(caught.value)
    call(mode, prediction, "wait", timeout=5)
    assert prediction.output == {"text": "done"}
    assert emu.stats.tasks_created == 1


@pytest.mark.parametrize("mode", MODES)
def test_version_alias_and_resource_config_reach_the_server(mode: str, client: Client, emu: Emulator) -> None:
    call(
        mode,
        client.predictions,
        "create",
        "demo-txt2img",
        {"prompt": "v"},
        version_id="v1",
        resource_config_id="pool-a,default",
        randomise_seeds=True,
    )
    task = emu.tasks[-1]
    assert task.version == "v1" and task.resource_config_id == "pool-a,default"
    body = json.loads(next(r.body for r in emu.requests if r.path == "/scc/comfy_prompt"))
    assert body["version_id"] == "v1" and "alias_id" not in body and body["randomise_seeds"] is True


@pytest.mark.parametrize("mode", MODES)
def test_file_inputs_are_uploaded_once_and_echoed(mode: str, client: Client, emu: Emulator, tmp_path: Path) -> None:
    picture = tmp_path / "in.png"
    picture.write_bytes(PNG)
    with open(picture, "rb") as handle:
        output = call(
            mode,
            client,
            "run",
            "demo-echo",
            {"image": picture, "same": str(picture), "also": [picture], "stream": handle},
        )
    assert call(mode, output["images"]["url"], "read") == PNG
    # The path and the open file hold the same content: uploaded once (issue 21).
    assert emu.stats.requests_by_path["/scc/sp_create_temp_file_upload_sign"] == 1
    puts = [r for r in emu.requests if r.method == "PUT"]
    assert all(r.headers["content-type"] == "image/png" for r in puts)
    assert not any(k.startswith("x-ca-") for r in puts for k in r.headers)


@pytest.mark.parametrize("mode", MODES)
def test_base64_strategy_sends_a_data_uri(mode: str, client: Client, emu: Emulator) -> None:
    output = call(mode, client, "run", "demo-echo", {"image": io.BytesIO(PNG)}, file_encoding_strategy="base64")
    assert emu.tasks[-1].inputs["image"].startswith("data:image/png;base64,")
    assert call(mode, output["images"]["url"], "read") == PNG
    assert emu.stats.requests_by_path["/scc/sp_create_temp_file_upload_sign"] == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("source", "kwargs", "content_type", "name"),
    [
        ("path", {}, "image/png", "photo.png"),
        ("bytes", {}, "image/png", "file.png"),
        ("bytes", {"filename": "x.bin", "content_type": "video/mp4"}, "video/mp4", "x.bin"),
        ("stream", {}, "image/png", "photo.png"),
    ],
)
def test_files_create(
    mode: str,
    source: str,
    kwargs: dict[str, str],
    content_type: str,
    name: str,
    client: Client,
    emu: Emulator,
    tmp_path: Path,
) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(PNG)
    handle = open(path, "rb")  # noqa: SIM115
    value = {"path": str(path), "bytes": PNG, "stream": handle}[source]
    try:
        uploaded = call(mode, client.files, "create", value, **kwargs)
    finally:
        handle.close()
    assert uploaded.content_type == content_type and uploaded.name == name and uploaded.size == len(PNG)
    assert str(uploaded) == uploaded.url == uploaded.access_url
    assert uploaded.object_key and uploaded.expire_time is not None
    assert FileOutput(uploaded.access_url).read() == PNG


def test_content_type_is_sniffed_when_the_name_says_nothing(client: Client) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    assert client.files.create(jpeg, filename="noext").content_type == "image/jpeg"
    assert client.files.create(b"plain text", filename="noext").content_type == "application/octet-stream"


def test_one_client_across_successive_asyncio_runs_and_threads(client: Client) -> None:
    for _ in range(2):  # the original SDK fails here with "Event loop is closed"
        assert asyncio.run(client.async_run("demo-txt2img", {"prompt": "loop"}))["images"]["url"]
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            client.run("demo-txt2img", {"prompt": "thread"})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_client_api_is_the_signed_generated_client(client: Client) -> None:
    prediction = client.predictions.create("demo-txt2img", {"prompt": "low level"})
    parsed = comfy_get_progress.sync(client=client.api, body=TaskIdRequest(task_id=prediction.id))
    assert parsed is not None and parsed.status == 10 and parsed.data.task_id == prediction.id


def test_module_level_run_uses_env_client(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emu.reset()
    monkeypatch.setenv("SPEEDPIX_ENDPOINT", emu.endpoint)
    monkeypatch.setenv("SPEEDPIX_APP_KEY", emu.app_key)
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", emu.app_secret)
    monkeypatch.setattr(speedpix, "_default_client", None)
    assert speedpix.run("demo-txt2img", {"prompt": "env"})["images"]["url"]
    assert asyncio.run(speedpix.async_run("demo-txt2img", {"prompt": "env"}))["images"]["url"]
    assert speedpix.default_client() is speedpix.default_client()


def test_missing_credentials_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPEEDPIX_APP_KEY", raising=False)
    monkeypatch.delenv("SPEEDPIX_APP_SECRET", raising=False)
    with pytest.raises(ValueError, match="SPEEDPIX_APP_KEY"):
        Client()
    with pytest.raises(ValueError, match="SPEEDPIX_APP_SECRET"):
        Client("key")


def test_endpoint_without_scheme_gets_https() -> None:
    assert Client("k", "s", endpoint="your-endpoint.com").endpoint == "https://your-endpoint.com"


def test_cancel_says_the_api_has_none(client: Client) -> None:
    prediction = client.run("demo-txt2img", {"prompt": "c"}, wait=False)
    with pytest.raises(NotImplementedError, match="no cancel endpoint"):
        prediction.cancel()


def test_status_spellings_are_normalised() -> None:
    from speedpix._core.replies import normalise_status

    assert normalise_status("successed") == "succeeded"
    assert normalise_status("cancelled") == "canceled"
    assert normalise_status("brand-new") == "brand-new"


@pytest.mark.parametrize("mode", MODES)
def test_max_retries_per_call_and_with_options(mode: str, client: Client, emu: Emulator) -> None:
    fast = client.with_options(retry_delay=0.01)
    emu.inject("/scc/comfy_get_progress", "http_error", count=3, status=503)
    # Three 503s in a row outlast the default two retries but not five.
    output = call(mode, fast, "run", "demo-txt2img", {"prompt": "r"}, max_retries=5)
    assert output["images"]["url"]
    assert emu.stats.requests_by_path["/scc/comfy_get_progress"] >= 4
    emu.inject("/scc/comfy_get_progress", "http_error", count=1, status=503)
    with pytest.raises(speedpix.ServerError) as caught:
        call(mode, fast.with_options(max_retries=0), "run", "demo-txt2img", {"prompt": "r"})
    assert caught.value.task_id and caught.value.status_code == 503
    assert fast.with_options(timeout=5)._config.retry_policy.initial_delay == 0.01
    assert client._config.retry_policy.initial_delay != 0.01  # the original is unchanged


@pytest.mark.parametrize("mode", MODES)
def test_result_calls_refused_before_the_finish_do_not_fail_the_task(mode: str, client: Client, emu: Emulator) -> None:
    # Undocumented upstream: a result call for an unfinished task may answer with an error.
    # The wait must then ask the progress endpoint, not take the task for failed.
    # A queue and an ETA reported 50 % short make the poll aimed at the finish come early.
    options: dict[str, Any] = {"duration": 0.3, "queue_time": 0.6, "eta_error": -0.5}
    emu.register("early-aimed", lambda ctx, inputs: {"text": "ok"}, **options)
    emu.register("fails-late", lambda ctx, inputs: {}, fail=True, **options)
    emu.result_before_finish = "error"
    try:
        assert call(mode, client, "run", "early-aimed", {}) == {"text": "ok"}
        paths = [r.path for r in emu.requests]
        first_result = paths.index("/scc/comfy_get_result")
        assert "/scc/comfy_get_progress" in paths[first_result:]  # refused early, then progress
        with pytest.raises(PredictionError) as caught:
            call(mode, client, "run", "fails-late", {})
    finally:
        emu.result_before_finish = "status"
    assert caught.value.prediction is not None and caught.value.prediction.status == "failed"
    assert emu.stats.tasks_created == 2
