"""Benchmark the local SpeedPix emulator (speedpix.testing).

Prints:
  - signed requests per second the emulator answers (comfy_get_progress by default),
    driven by separate client processes over keep-alive connections, each request
    freshly signed (new nonce, timestamp, Content-MD5, HMAC-SHA256);
  - the time of a 256 MiB upload (presigned PUT, streamed) and the growth of the
    emulator's resident memory meanwhile.

Targets (issue 3): >= 3,000 requests/s on a 2-core machine; the upload under 2 s with
under 32 MiB RSS growth.

    uv run python scripts/bench_emulator.py [--seconds 5] [--processes 2] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import multiprocessing
import os
import threading
import time
from email.utils import formatdate
from multiprocessing.connection import Connection
from typing import Any

APP_KEY = "bench-key"
APP_SECRET = "bench-secret"
UPLOAD_SIZE = 256 * 1024 * 1024


class FastSigner:
    """The gateway signature with everything constant precomputed: per request only
    the nonce, the timestamp (and the Date once a second) and one HMAC change."""

    def __init__(self, path: str, body: bytes, worker: int) -> None:
        self.path = path
        self.body = body
        self.md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        self.mac = hmac.new(APP_SECRET.encode(), digestmod=hashlib.sha256)
        self.worker = worker
        self.count = 0
        self._date_second = -1
        self._date = ""

    def request(self, host: str) -> bytes:
        now = time.time()
        if int(now) != self._date_second:
            self._date_second = int(now)
            self._date = formatdate(now, usegmt=True) + "+00:00"
        self.count += 1
        nonce = f"{self.worker}-{os.getpid()}-{self.count}"
        timestamp = str(int(now * 1000))
        to_sign = (
            f"POST\napplication/json; charset=utf-8\n{self.md5}\napplication/json; charset=utf-8\n"
            f"{self._date}\nx-ca-key:{APP_KEY}\nx-ca-nonce:{nonce}\n"
            f"x-ca-signature-method:HmacSHA256\nx-ca-timestamp:{timestamp}\n{self.path}"
        )
        mac = self.mac.copy()
        mac.update(to_sign.encode())
        signature = base64.b64encode(mac.digest()).decode()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {host}\r\n"
            "Accept: application/json; charset=utf-8\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-MD5: {self.md5}\r\nDate: {self._date}\r\n"
            f"x-ca-key: {APP_KEY}\r\nx-ca-nonce: {nonce}\r\n"
            f"x-ca-timestamp: {timestamp}\r\nx-ca-signature-method: HmacSHA256\r\n"
            "x-ca-signature-headers: x-ca-timestamp,x-ca-key,x-ca-nonce,x-ca-signature-method\r\n"
            f"x-ca-signature: {signature}\r\nContent-Length: {len(self.body)}\r\n\r\n"
        )
        return head.encode() + self.body


async def _connection(host: str, port: int, signer: FastSigner, start: float, stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    hostport = f"{host}:{port}"
    try:
        while True:
            now = time.time()
            if now >= stop:
                return
            writer.write(signer.request(hostport))
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200") or b'"status":10' not in body:
                raise RuntimeError(f"unexpected response: {head!r} {body[:200]!r}")
            if now >= start:  # count only after the warm-up
                counts[0] += 1
    finally:
        writer.close()


def _load_worker(
    host: str, port: int, path: str, body: bytes, worker: int, connections: int,
    start: float, stop: float, out: Connection,
) -> None:  # fmt: skip
    counts = [0]

    async def run() -> None:
        signers = [FastSigner(path, body, worker * 1000 + i) for i in range(connections)]
        await asyncio.gather(*(_connection(host, port, s, start, stop, counts) for s in signers))

    asyncio.run(run())
    out.send(counts[0])
    out.close()


def _signed_post(endpoint: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    from speedpix._core.signing import signature_headers

    raw = json.dumps(body).encode()
    headers, _ = signature_headers(
        app_key=APP_KEY, app_secret=APP_SECRET, method="POST", url_path=path, url_query="", body=raw
    )
    envelope: dict[str, Any] = httpx.post(endpoint + path, content=raw, headers=headers).json()
    assert envelope["status"] == 10, envelope
    return envelope


def _upload_worker(endpoint: str, out: Connection) -> None:
    import httpx

    sign = _signed_post(
        endpoint,
        "/scc/sp_create_temp_file_upload_sign",
        {"originalFilename": "big.bin", "contentType": "application/octet-stream", "size": UPLOAD_SIZE},
    )["data"]
    block = os.urandom(1024 * 1024)
    digest = hashlib.sha256()

    def chunks() -> Any:
        for _ in range(UPLOAD_SIZE // len(block)):
            digest.update(block)
            yield block

    headers = {"content-type": "application/octet-stream", "content-length": str(UPLOAD_SIZE)}
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        response = client.put(sign["uploadUrl"], content=chunks(), headers=headers)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        check = hashlib.sha256()
        with client.stream("GET", sign["accessUrl"]) as download:
            for chunk in download.iter_bytes(1024 * 1024):
                check.update(chunk)
    out.send((elapsed, check.digest() == digest.digest()))
    out.close()


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured load duration")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=8, help="connections per process")
    parser.add_argument(
        "--endpoint",
        choices=["comfy_get_progress", "comfy_get_result", "comfy_prompt"],
        default="comfy_get_progress",
    )
    parser.add_argument("--skip-upload", action="store_true")
    args = parser.parse_args()

    from speedpix.testing import Emulator

    spawn = multiprocessing.get_context("spawn")  # the emulator's threads must not be forked
    with Emulator(app_key=APP_KEY, app_secret=APP_SECRET) as emu:
        emu.register("bench", lambda ctx, inputs: {"ok": True}, duration=3600)
        task_id = _signed_post(emu.endpoint, "/scc/comfy_prompt", {"workflow_id": "bench", "inputs": {}})["data"][
            "taskId"
        ]
        path = f"/scc/{args.endpoint}"
        body = (
            json.dumps({"workflow_id": "bench", "inputs": {"n": 1}}).encode()
            if args.endpoint == "comfy_prompt"
            else json.dumps({"taskId": task_id}).encode()
        )

        start = time.time() + 1.5  # spawn the workers, then warm up
        stop = start + args.seconds
        pipes, workers = [], []
        for worker in range(args.processes):
            receiver, sender = spawn.Pipe(duplex=False)
            process = spawn.Process(
                target=_load_worker,
                args=("127.0.0.1", emu.port, path, body, worker, args.connections, start, stop, sender),
            )
            process.start()
            pipes.append(receiver)
            workers.append(process)
        total = sum(pipe.recv() for pipe in pipes)
        for process in workers:
            process.join()
        rate = total / args.seconds
        verdict = "OK" if rate >= 3000 else "BELOW TARGET"
        print(
            f"signed {args.endpoint}: {total} requests in {args.seconds:.1f} s = {rate:,.0f} req/s "
            f"({args.processes} processes x {args.connections} connections) [{verdict}: >= 3,000]"
        )

        if args.skip_upload:
            return
        emu.reset()
        baseline = peak = _rss_bytes()
        sampling = True

        def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, _rss_bytes())
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        receiver, sender = spawn.Pipe(duplex=False)
        uploader = spawn.Process(target=_upload_worker, args=(emu.endpoint, sender))
        uploader.start()
        elapsed, identical = receiver.recv()
        uploader.join()
        sampling = False
        sampler.join()
        growth = (peak - baseline) / 2**20
        ok = "OK" if elapsed < 2 and growth < 32 and identical else "BELOW TARGET"
        print(
            f"upload 256 MiB: {elapsed:.2f} s ({256 / elapsed:,.0f} MiB/s), emulator RSS growth "
            f"{growth:.1f} MiB (peak), bytes identical on download: {identical} "
            f"[{ok}: < 2 s, < 32 MiB]"
        )


if __name__ == "__main__":
    main()
