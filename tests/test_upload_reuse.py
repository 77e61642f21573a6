"""Each input content is uploaded once per client while its link stays valid."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import threading
import time
from pathlib import Path

import pytest

from speedpix import Client
from speedpix._core.reuse import REUSE_MARGIN, reusable, valid_until
from speedpix.files import UploadRecord
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


# Handing uploads from one client to another: client.files.uploads() / .reuse()


def test_uploads_of_one_client_are_reused_by_another(emu: Emulator, reference: Path) -> None:
    with emu.client() as first:
        url = first.run("inputs-back", {"image": reference})["inputs"]["image"]
        (record,) = first.files.uploads()
    assert record.sha256 == hashlib.sha256(reference.read_bytes()).hexdigest()
    assert (record.size, record.content_type, record.access_url) == (reference.stat().st_size, "image/png", url)
    assert record.until == pytest.approx(time.time() + 3600, abs=60)  # the emulator signs for an hour
    with emu.client() as second:
        assert second.files.reuse([record]) == 1
        assert second.run("inputs-back", {"image": reference})["inputs"]["image"] == url
        assert second.files.uploads() == [record]
    assert signs(emu) == 1


def test_uploads_are_reused_by_an_async_client(emu: Emulator, reference: Path) -> None:
    async def main() -> tuple[list[UploadRecord], set[str]]:
        async with emu.client() as first:
            await first.async_run("inputs-back", {"image": reference})
            records = first.files.uploads()
        async with emu.client() as second:
            assert second.files.reuse(records) == 1
            runs = [second.async_run("inputs-back", {"image": reference, "n": n}) for n in range(5)]
            return records, {output["inputs"]["image"] for output in await asyncio.gather(*runs)}

    records, urls = asyncio.run(main())
    assert urls == {records[0].access_url}
    assert signs(emu) == 1


def test_a_client_without_reuse_neither_hands_out_nor_takes_uploads(emu: Emulator, reference: Path) -> None:
    with emu.client() as first:
        first.run("inputs-back", {"image": reference})
        records = first.files.uploads()
    with emu.client(reuse_uploads=False) as plain:
        assert plain.files.reuse(records) == 0
        plain.run("inputs-back", {"image": reference})
        assert plain.files.uploads() == []
    assert signs(emu) == 2


def test_a_record_valid_for_too_short_a_time_is_not_used(emu: Emulator, reference: Path) -> None:
    with emu.client() as first:
        first.run("inputs-back", {"image": reference})
        (record,) = first.files.uploads()
    now = time.time()
    short = dataclasses.replace(record, until=now + REUSE_MARGIN - 30)
    expired = dataclasses.replace(record, until=now - 1)
    with emu.client() as second:
        assert second.files.reuse([short, expired]) == 0
        url = second.run("inputs-back", {"image": reference})["inputs"]["image"]
        assert url != record.access_url
        # A record does not replace an upload known to live longer.
        assert second.files.reuse([dataclasses.replace(record, until=now + REUSE_MARGIN + 60)]) == 0
        assert second.files.uploads()[0].access_url == url
    assert signs(emu) == 2


def test_a_record_hides_its_presigned_query() -> None:
    record = UploadRecord("ab" * 32, 10, "image/png", "https://u:p@h/temp/x.png?Expires=1&Signature=secret", 2e9)
    assert "Signature" not in repr(record) and "secret" not in str(record) and "u:p" not in repr(record)
    assert "https://h/temp/x.png" in repr(record)


def test_records_are_checked() -> None:
    from speedpix.errors import InvalidInputError

    for bad in (("x", -1, "image/png", "u", 2e9), ("x", 1, "image/png", "u", float("nan")), ("x", 1, None, "u", 1.0)):
        with pytest.raises(InvalidInputError, match="upload record"):
            UploadRecord(*bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="UploadRecord"):
        Client("k", "s").files.reuse([("x", 1, "image/png", "u", 2e9)])  # type: ignore[list-item]
