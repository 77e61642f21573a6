"""Clients, predictions and outputs pickle as configuration and work once unpickled."""

from __future__ import annotations

import asyncio
import copy
import pickle
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from speedpix import Client, FileNode, FileOutput, FileTransferError, PredictionError, ServerError
from speedpix.testing import Emulator

from ._jobs import ECHO, run_job

IMAGE = {"prompt": "a cat", "width": 16, "height": 16}


def roundtrip(value: object) -> object:
    return pickle.loads(pickle.dumps(value))


def test_client_unpickles_to_its_configuration(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEEDPIX_APP_KEY", emu.app_key)
    monkeypatch.setenv("SPEEDPIX_APP_SECRET", emu.app_secret)
    monkeypatch.setenv("SPEEDPIX_ENDPOINT", emu.endpoint)
    client = Client(max_retries=0, timeout=7)
    client.run(ECHO, {"prompt": "before"})  # it holds a connection now: that is not pickled
    data = pickle.dumps(client)
    for name in ("SPEEDPIX_APP_KEY", "SPEEDPIX_APP_SECRET", "SPEEDPIX_ENDPOINT"):
        monkeypatch.delenv(name)  # the credentials travel in the pickle, resolved
    restored = pickle.loads(data)
    assert isinstance(restored, Client) and restored is not client
    assert repr(restored) == repr(client)
    assert emu.app_secret not in repr(restored) and emu.app_secret not in repr(restored._config)
    assert restored._config == client._config
    assert restored.run(ECHO, {"prompt": "after"})["text"] == "after"
    client.close()
    restored.close()


def test_client_pickle_keeps_retry_options(emu: Emulator) -> None:
    client = emu.client(max_retries=0)
    emu.inject("/scc/comfy_get_progress", "http_error", count=1, status=503)
    prediction = client.predictions.create(ECHO, {"prompt": "x"})
    with pytest.raises(ServerError, match="503"):
        roundtrip(client).predictions.get(prediction.id)  # max_retries=0 came along
    emu.inject("/scc/comfy_get_progress", "http_error", count=1, status=503)
    patient = roundtrip(client.with_options(max_retries=2, retry_delay=0.01))
    assert isinstance(patient, Client)
    assert patient.predictions.get(prediction.id).id == prediction.id


def test_copy_shares_connections_deepcopy_does_not(emu: Emulator) -> None:
    client = emu.client()
    assert copy.copy(client)._handle.transport is client._handle.transport  # with_options relies on it
    assert copy.deepcopy(client)._handle.transport is not client._handle.transport


def test_prediction_unpickles_and_waits(emu: Emulator) -> None:
    emu.configure(ECHO, duration=0.3)
    client = emu.client()
    prediction = client.predictions.create(ECHO, {"prompt": "later"})
    restored = roundtrip(prediction)
    assert restored.id == prediction.id and not restored.done
    assert restored.reload().id == prediction.id
    restored.wait(timeout=10)
    assert restored.status == "succeeded" and restored.output["text"] == "later"
    again = roundtrip(prediction)
    asyncio.run(again.async_wait(timeout=10))
    assert again.output["text"] == "later"
    # A finished prediction pickles with its output.
    assert roundtrip(restored).output["text"] == "later"


def test_outputs_unpickle_and_download_without_credentials(emu: Emulator, tmp_path: Path) -> None:
    client = emu.client(max_retries=0)
    output = client.run("demo-txt2img", IMAGE)
    original = output["images"]["url"].read()
    data = pickle.dumps(output)
    assert emu.app_secret.encode() not in data
    restored = pickle.loads(data)
    node, url = restored["images"], restored["images"]["url"]
    assert isinstance(node, FileNode) and isinstance(url, FileOutput)
    assert url == output["images"]["url"] and url.task_id == output["images"]["url"].task_id
    assert url.read() == original
    assert node.save(tmp_path / "node.png").read_bytes() == original
    assert url.save(tmp_path).read_bytes() == original
    assert asyncio.run(url.async_read()) == original
    # The retry policy came along (max_retries=0: one 503 fails the download).
    emu.inject("/storage/*", "http_error", count=1, status=503)
    with pytest.raises(FileTransferError) as failure:
        url.read()
    assert failure.value.task_id == url.task_id


def test_failed_task_error_pickles_with_its_prediction(emu: Emulator) -> None:
    emu.configure(ECHO, fail=True)
    client = emu.client()
    with pytest.raises(PredictionError) as failure:
        client.run(ECHO, {"prompt": "x"})
    restored = roundtrip(failure.value)
    assert isinstance(restored, PredictionError)
    assert restored.task_id == failure.value.task_id and str(restored) == str(failure.value)
    assert restored.prediction is not None and restored.prediction.status == "failed"
    assert restored.prediction.reload().status == "failed"  # its client came along


def test_client_goes_to_a_spawned_process(emu: Emulator) -> None:
    client = emu.client()
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as executor:
        results = list(executor.map(run_job, [client] * 4, range(4)))
    assert [text for _, text, _ in results] == [f"job-{i}" for i in range(4)]
    assert emu.stats.tasks_created == 4
