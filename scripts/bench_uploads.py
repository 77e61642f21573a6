"""Benchmark uploading each input content once (issue 21): reuse on against reuse off.

Against one in-process emulator, on loopback:

  - a batch of JOBS jobs whose inputs all name one SIZE-MB reference file
    (``{"$file": "ref.png"}``), run with ``run_batch``;
  - JOBS concurrent ``async_run`` calls sharing one ``Path``.

For each, with ``reuse_uploads=True`` (the default) and ``False`` (what every earlier
version did): upload signatures, PUTs, bytes sent to storage, and the wall time.

    uv run python scripts/bench_uploads.py [--jobs 200] [--size 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from speedpix.batch import run_batch
from speedpix.testing import Emulator

SIGN = "/scc/sp_create_temp_file_upload_sign"


def _puts(emu: Emulator) -> int:
    return sum(count for path, count in emu.stats.requests_by_path.items() if path.startswith("/storage/upload/"))


def _measure(emu: Emulator, size: int, work: Any) -> dict[str, float]:
    signs, puts = emu.stats.requests_by_path[SIGN], _puts(emu)
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    uploads = emu.stats.requests_by_path[SIGN] - signs
    put_count = _puts(emu) - puts
    return {"signatures": uploads, "puts": put_count, "mb_sent": put_count * size / 1e6, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--size", type=float, default=5.0, help="reference size in MB")
    args = parser.parse_args()
    size = int(args.size * 1e6)
    folder = Path(tempfile.mkdtemp(prefix="speedpix-bench-uploads-"))
    reference = folder / "ref.png"
    reference.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8))
    jobs = folder / "jobs.jsonl"
    jobs.write_text(
        "".join(
            json.dumps({"id": f"j{i}", "workflow_id": "ref", "input": {"image": {"$file": str(reference)}, "n": i}})
            + "\n"
            for i in range(args.jobs)
        )
    )
    rows: list[tuple[str, str, dict[str, float]]] = []
    with Emulator() as emu:
        emu.register("ref", lambda ctx, inputs: {"text": "ok"})
        for reuse in (True, False):
            with emu.client(reuse_uploads=reuse) as client:
                out = folder / f"out-{reuse}"
                rows.append(
                    (
                        "batch",
                        str(reuse),
                        _measure(
                            emu,
                            size,
                            lambda out=out, client=client: run_batch(jobs, out, client=client, concurrency=16),
                        ),
                    )
                )

            async def gather(reuse: bool = reuse) -> None:
                async with emu.client(reuse_uploads=reuse) as client:
                    await asyncio.gather(
                        *(client.async_run("ref", {"image": reference, "n": i}) for i in range(args.jobs))
                    )

            rows.append(("async_run", str(reuse), _measure(emu, size, lambda: asyncio.run(gather()))))
    print(f"{args.jobs} jobs sharing one {args.size:g} MB file\n")
    print(f"{'case':<10} {'reuse':<6} {'signatures':>10} {'PUTs':>6} {'MB sent':>9} {'wall s':>8}")
    for case, reuse, row in rows:
        print(
            f"{case:<10} {reuse:<6} {row['signatures']:>10.0f} {row['puts']:>6.0f} "
            f"{row['mb_sent']:>9.1f} {row['wall_s']:>8.2f}"
        )
    for case in ("batch", "async_run"):
        on = next(r for c, reuse, r in rows if c == case and reuse == "True")
        off = next(r for c, reuse, r in rows if c == case and reuse == "False")
        print(
            f"{case}: bytes sent {on['mb_sent'] / args.size:.2f} x the file; "
            f"wall time {on['wall_s'] / off['wall_s']:.2f} x reuse off"
        )


if __name__ == "__main__":
    main()
