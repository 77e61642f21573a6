"""Each input content is uploaded once per client while its link stays valid."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from speedpix import Client
from speedpix._core.reuse import REUSE_MARGIN, reusable, valid_until
from speedpix.testing import Emulator

SIGN = "/scc/sp_create_temp_file_upload_sign"


@pytest.fixture
def emu(speedpix_emulator: Emulator) -> Emulator:
    speedpix_emulator.register("inputs-back", lambda ctx, inputs: {"inputs": inputs})
    return speedpix_emulator


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "ref.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    return path


def signs(emu: Emulator) -> int:
    return emu.stats.requests_by_path[SIGN]


def test_sequential_runs_share_one_upload(emu: Emulator, reference: Path) -> None:
    with emu.client() as client:
        urls = {client.run("inputs-back", {"image": reference, "prompt": f"p{i}"})["inputs"]["image"] for i in range(5)}
    assert signs(emu) == 1 and len(urls) == 1


def test_the_same_bytes_under_another_name_are_the_same_content(emu: Emulator, reference: Path) -> None:
    with emu.client() as client:
        client.run("inputs-back", {"image": reference})
        client.run("inputs-back", {"image": reference.read_bytes()})  # same bytes, same type
    assert signs(emu) == 1


def test_concurrent_async_runs_share_one_upload_in_flight(emu: Emulator, reference: Path) -> None:
    async def main() -> set[str]:
        async with emu.client() as client:
            runs = [client.async_run("inputs-back", {"image": reference, "n": i}) for i in range(50)]
            return {output["inputs"]["image"] for output in await asyncio.gather(*runs)}

    assert len(asyncio.run(main())) == 1
    assert signs(emu) == 1


def test_threads_share_one_upload_in_flight(emu: Emulator, reference: Path) -> None:
    client = emu.client()
    emu.configure("inputs-back", duration=0.05)
    results: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(client.run("inputs-back", {"image": reference})["inputs"]["image"])
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert len(results) == 8 and len(set(results)) == 1
    assert signs(emu) == 1


def test_a_changed_file_is_uploaded_again(emu: Emulator, reference: Path) -> None:
    with emu.client() as client:
        client.run("inputs-back", {"image": reference})
        reference.write_bytes(reference.read_bytes() + b"more")
        client.run("inputs-back", {"image": reference})
    assert signs(emu) == 2


def test_reuse_can_be_turned_off(emu: Emulator, reference: Path) -> None:
    with emu.client(reuse_uploads=False) as client:
        for _ in range(3):
            client.run("inputs-back", {"image": reference})
    assert signs(emu) == 3


def test_with_options_copies_share_the_uploads(emu: Emulator, reference: Path) -> None:
    with emu.client() as client:
        client.run("inputs-back", {"image": reference})
        client.with_options(max_retries=0).run("inputs-back", {"image": reference})
    assert signs(emu) == 1


def test_a_failed_upload_is_not_reused(emu: Emulator, reference: Path) -> None:
    from speedpix.errors import SpeedPixException

    with emu.client(max_retries=0) as client:
        emu.inject(SIGN, "http_error", count=1, status=503)
        with pytest.raises(SpeedPixException):
            client.run("inputs-back", {"image": reference})
        client.run("inputs-back", {"image": reference})
    assert signs(emu) == 2


def test_the_reuse_rule() -> None:
    now = time.time()
    ms = int((now + 3600) * 1000)
    assert valid_until(ms, "https://h/f.png") == pytest.approx(now + 3600, abs=0.01)
    assert valid_until(int(now + 3600), "https://h/f.png") == int(now + 3600)  # epoch seconds
    assert valid_until(str(ms), "https://h/f.png") == pytest.approx(now + 3600, abs=0.01)
    # The accessUrl's own presigned expiry bounds it too.
    assert valid_until(ms, f"https://h/f.png?Expires={int(now + 600)}&Signature=x") == int(now + 600)
    # In doubt, no reuse: no expiry, a number that could be a duration, a naive date, NaN,
    # or a presigned URL whose expiry we cannot read.
    for doubtful in (None, 3600, "soon", "2030-01-01T00:00:00", float("nan"), True):
        assert valid_until(doubtful, "https://h/f.png") is None, doubtful
    assert valid_until(ms, "https://h/f.png?token=abc") is None
    assert valid_until("2030-01-01T00:00:00Z", "https://h/f.png") is not None
    assert reusable(now + REUSE_MARGIN + 1, now) and not reusable(now + REUSE_MARGIN - 1, now)
    assert not reusable(None, now)


def test_the_client_option_is_checked() -> None:
    from speedpix.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="reuse_uploads"):
        Client("k", "s", reuse_uploads="yes")  # type: ignore[arg-type]
