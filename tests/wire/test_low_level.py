"""``client.api``, the generated low-level client with signing attached, on the one HTTP path.

Against the emulator, which verifies every signature: sync and async calls, before and
after ``close()``/``aclose()``, across successive ``asyncio.run()`` calls, and no socket
left to the garbage collector (no ResourceWarning).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Iterator

import pytest

import speedpix
import speedpix_api
from speedpix.testing import Emulator
from speedpix_api.api.predictions import comfy_get_progress
from speedpix_api.models import TaskIdRequest
from speedpix_api.types import Response
from tests._wait import eventually

PROMPT = {"prompt": "a cat", "width": 16, "height": 16}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def task_id(emu: Emulator) -> str:
    with emu.client() as client:
        return client.run("demo-txt2img", PROMPT, wait=False).id


def answered(response: Response[object], task_id: str) -> bool:
    parsed = response.parsed
    assert response.status_code == 200, (response.status_code, response.headers.get("x-ca-error-message"))
    assert parsed is not None
    assert parsed.status == 10  # type: ignore[attr-defined]
    return bool(parsed.data.task_id == task_id)  # type: ignore[attr-defined]


def test_sync_calls_are_signed_and_work_after_close(emu: Emulator, task_id: str) -> None:
    client = emu.client()
    body = TaskIdRequest(task_id=task_id)
    assert answered(comfy_get_progress.sync_detailed(client=client.api, body=body), task_id)
    client.close()
    assert answered(comfy_get_progress.sync_detailed(client=client.api, body=body), task_id)
    client.close()

    # The signature is what the emulator accepts: the same call signed with another secret is refused.
    wrong = speedpix.Client(emu.app_key, "not-the-secret", endpoint=emu.endpoint)
    refused = comfy_get_progress.sync_detailed(client=wrong.api, body=body)
    assert refused.status_code == 400
    assert refused.headers["x-ca-error-message"].startswith("Invalid Signature")
    wrong.close()


def test_async_calls_are_signed_and_work_after_aclose_and_in_a_second_asyncio_run(emu: Emulator, task_id: str) -> None:
    client = emu.client()
    body = TaskIdRequest(task_id=task_id)

    async def twice() -> None:
        assert answered(await comfy_get_progress.asyncio_detailed(client=client.api, body=body), task_id)
        await client.aclose()
        assert answered(await comfy_get_progress.asyncio_detailed(client=client.api, body=body), task_id)

    asyncio.run(twice())  # ended without aclose(): the loop's end closes its connections
    asyncio.run(twice())
    parsed = asyncio.run(comfy_get_progress.asyncio(client=client.api, body=body))
    assert parsed is not None and parsed.status == 10

    async def wrong_secret() -> Response[object]:
        wrong = speedpix.Client(emu.app_key, "not-the-secret", endpoint=emu.endpoint)
        try:
            return await comfy_get_progress.asyncio_detailed(client=wrong.api, body=body)
        finally:
            await wrong.aclose()

    refused = asyncio.run(wrong_secret())
    assert refused.status_code == 400
    assert refused.headers["x-ca-error-message"].startswith("Invalid Signature")


def test_client_api_leaves_no_socket_to_the_garbage_collector(emu: Emulator, task_id: str) -> None:
    body = TaskIdRequest(task_id=task_id)
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        client = emu.client()
        assert answered(comfy_get_progress.sync_detailed(client=client.api, body=body), task_id)

        async def main(api: speedpix_api.Client) -> None:
            assert answered(await comfy_get_progress.asyncio_detailed(client=api, body=body), task_id)

        asyncio.run(main(client.api))  # never closed: closed with its loop
        asyncio.run(main(client.api))
        assert eventually(lambda: emu.open_connections == 1)  # the sync one, kept alive; the async ones closed
        del client  # never closed: closed when collected
        gc.collect()
        assert eventually(lambda: emu.open_connections == 0)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
