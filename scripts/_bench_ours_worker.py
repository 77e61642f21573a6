"""Benchmark worker for this SDK (runs in the project's venv). See _bench_common.py."""

from __future__ import annotations

import os
import time
from typing import Any

import _bench_common as common
import httpx

import speedpix


class Ours(common.Adapter):
    def make_client(self, endpoint: str, app_key: str, app_secret: str) -> Any:
        return speedpix.Client(app_key, app_secret, endpoint=endpoint)

    def run(self, client: Any, workflow: str, inputs: dict[str, Any]) -> Any:
        return client.run(workflow, inputs)

    async def async_run(self, client: Any, workflow: str, inputs: dict[str, Any]) -> Any:
        return await client.async_run(workflow, inputs)

    async def async_get(self, client: Any, task_id: str) -> Any:
        return await client.predictions.async_get(task_id)

    def upload(self, client: Any, path: str) -> str:
        return str(client.files.create(path))

    def save(self, output: Any, path: str) -> None:
        output["images"]["url"].save(path)

    def sign_only(self, client: Any) -> Any:
        # The client's signer (keyed with the emulator's test credentials), as each request uses it.
        body = b'{"taskId":"01m87a5672v1ccrva46v0a07m8"}'
        signer = client.api.get_httpx_client().auth  # our GatewaySigner, attached as httpx auth

        def sign() -> Any:
            return signer.signature_headers(method="POST", url_path="/scc/comfy_get_progress", url_query="", body=body)

        return sign

    def build_and_sign(self, client: Any) -> Any:
        # What one progress poll costs before it reaches the socket: the generated model's
        # JSON body, the request as the client's httpx.Client builds it, then the signer.
        from speedpix_api.models import TaskIdRequest

        http = client.api.get_httpx_client()
        signer = http.auth

        def build() -> Any:
            body = TaskIdRequest(task_id="01m87a5672v1ccrva46v0a07m8").to_dict()
            request = http.build_request("POST", "/scc/comfy_get_progress", json=body)
            return next(signer.auth_flow(request))

        return build

    def floor_put(self, client: Any, path: str) -> float:
        """A bare streaming httpx PUT of the file to a fresh presigned URL: the floor."""
        from speedpix_api.api.files import sp_create_temp_file_upload_sign
        from speedpix_api.models import UploadSignRequest

        size = os.path.getsize(path)
        reply = sp_create_temp_file_upload_sign.sync(
            client=client.api,
            body=UploadSignRequest(original_filename="floor.bin", content_type="application/octet-stream", size=size),
        )
        assert reply is not None and reply.data is not None
        url = str(reply.data.upload_url)

        def chunks() -> Any:
            with open(path, "rb") as file:
                while chunk := file.read(1024 * 1024):
                    yield chunk

        with httpx.Client(timeout=120) as http:
            started = time.perf_counter()
            response = http.put(
                url,
                content=chunks(),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
            elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed


if __name__ == "__main__":
    common.main(Ours())
