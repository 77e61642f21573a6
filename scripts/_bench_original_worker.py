"""Benchmark worker for the original SDK (``speedpix==1.0.4``, run in its own venv).

See _bench_common.py. This file must not import anything of this project.
"""

from __future__ import annotations

from typing import Any

import _bench_common as common

import speedpix


class Original(common.Adapter):
    def make_client(self, endpoint: str, app_key: str, app_secret: str) -> Any:
        return speedpix.Client(app_key=app_key, app_secret=app_secret, endpoint=endpoint)

    def run(self, client: Any, workflow: str, inputs: dict[str, Any]) -> Any:
        return client.run(workflow_id=workflow, input=inputs)

    async def async_run(self, client: Any, workflow: str, inputs: dict[str, Any]) -> Any:
        return await client.async_run(workflow_id=workflow, input=inputs)

    async def async_get(self, client: Any, task_id: str) -> Any:
        return await client.predictions.async_get(task_id)

    def upload(self, client: Any, path: str) -> str:
        return str(client.files.create(path))

    def save(self, output: Any, path: str) -> None:
        output["images"]["url"].save(path)

    def sign_only(self, client: Any) -> Any:
        body = {"taskId": "01m87a5672v1ccrva46v0a07m8"}

        def sign() -> Any:
            return client._generate_header("POST", "/scc/comfy_get_progress", body)

        return sign

    def build_and_sign(self, client: Any) -> Any:
        # The same steps as its _request, short of sending: headers, then the httpx request.
        http = client._client
        body = {"taskId": "01m87a5672v1ccrva46v0a07m8"}
        path = "/scc/comfy_get_progress"

        def build() -> Any:
            headers = client._prepare_headers(path, body, None)
            return http.build_request("POST", client._build_url(path), json=body, headers=headers)

        return build


if __name__ == "__main__":
    common.main(Original())
