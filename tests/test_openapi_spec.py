"""openapi/speedpix.yaml: a valid OpenAPI 3.1 document that says what DESIGN.md §2 decided."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi" / "speedpix.yaml"

EXPECTED_OPERATIONS = {
    "/scc/comfy_prompt": ("comfy_prompt", "predictions"),
    "/scc/comfy_get_progress": ("comfy_get_progress", "predictions"),
    "/scc/comfy_get_result": ("comfy_get_result", "predictions"),
    "/scc/sp_create_temp_file_upload_sign": ("sp_create_temp_file_upload_sign", "files"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Every (path, key, value) of a nested dict/list document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk(item, f"{path}/{index}")


def schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    found = spec["components"]["schemas"][name]
    assert isinstance(found, dict)
    return found


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    prefix = "#/components/schemas/"
    assert ref.startswith(prefix)
    return schema(spec, ref.removeprefix(prefix))


def test_spec_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec, cls=OpenAPIV31SpecValidator)
    assert list(OpenAPIV31SpecValidator(spec).iter_errors()) == []


def test_validator_rejects_a_broken_spec(spec: dict[str, Any]) -> None:
    """The validation above can fail: a response without its required description."""
    broken = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    del broken["paths"]["/scc/comfy_prompt"]["post"]["responses"]["200"]["description"]
    assert list(OpenAPIV31SpecValidator(broken).iter_errors())


def test_server_is_the_documented_endpoint(spec: dict[str, Any]) -> None:
    assert [server["url"] for server in spec["servers"]] == ["https://openai.edu-aliyun.com"]


def test_exactly_the_four_gateway_operations(spec: dict[str, Any]) -> None:
    assert set(spec["paths"]) == set(EXPECTED_OPERATIONS)
    for path, (operation_id, tag) in EXPECTED_OPERATIONS.items():
        item = spec["paths"][path]
        assert set(item) & HTTP_METHODS == {"post"}, path
        operation = item["post"]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == [tag]
        body = operation["requestBody"]
        assert body["required"] is True
        assert set(body["content"]) == {"application/json"}
        assert set(operation["responses"]) == {"200"}
        assert "application/json" in operation["responses"]["200"]["content"]
    assert {tag["name"] for tag in spec["tags"]} == {"predictions", "files"}


def test_no_security_anywhere(spec: dict[str, Any]) -> None:
    offending = [f"{path}/{key}" for path, key, _ in walk(spec) if key in {"security", "securitySchemes"}]
    assert offending == []
    # ...and the description says why (signing belongs to the façade).
    assert "no security scheme" in spec["info"]["description"]


def test_task_status_is_an_open_string(spec: dict[str, Any]) -> None:
    task_status = schema(spec, "TaskStatus")
    assert task_status["type"] == "string"
    assert "enum" not in task_status
    assert "const" not in task_status
    for known in ("waiting", "running", "succeeded", "failed", "successed", "canceled"):
        assert f"`{known}`" in task_status["description"]
    # Every data schema's status is that open string, never an enum of its own.
    for name in ("ComfyPromptData", "ComfyProgressData", "ComfyResultData"):
        status = schema(spec, name)["properties"]["status"]
        assert status == {"$ref": "#/components/schemas/TaskStatus"}, name
    enums = [path for path, key, _ in walk(spec["components"]) if key == "enum"]
    assert enums == []


def test_comfy_prompt_takes_the_optional_resource_config_header(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/scc/comfy_prompt"]["post"]
    (parameter,) = operation["parameters"]
    assert parameter["name"] == "X-SP-RESOURCE-CONFIG-ID"
    assert parameter["in"] == "header"
    assert parameter["required"] is False
    assert parameter["schema"] == {"type": "string"}
    for path in EXPECTED_OPERATIONS:
        if path != "/scc/comfy_prompt":
            assert "parameters" not in spec["paths"][path]["post"], path


def test_envelope_is_shared_and_data_typed_per_operation(spec: dict[str, Any]) -> None:
    envelope = schema(spec, "Envelope")
    assert envelope["required"] == ["status"]
    assert envelope["properties"]["status"]["type"] == "integer"
    for field in ("apiInvokeId", "errCode", "errMessage", "subErrCode", "subErrMessage"):
        assert envelope["properties"][field]["type"] == ["string", "null"], field
    expected_data = {
        "ComfyPromptResponse": "ComfyPromptData",
        "ComfyProgressResponse": "ComfyProgressData",
        "ComfyResultResponse": "ComfyResultData",
        "UploadSignResponse": "UploadSignData",
    }
    for response_name, data_name in expected_data.items():
        envelope_ref, own = schema(spec, response_name)["allOf"]
        assert envelope_ref == {"$ref": "#/components/schemas/Envelope"}
        # data may be null on errors (status 20).
        assert own["properties"]["data"]["anyOf"] == [
            {"$ref": f"#/components/schemas/{data_name}"},
            {"type": "null"},
        ]
    for path, (operation_id, _) in EXPECTED_OPERATIONS.items():
        response_schema = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert resolve(spec, response_schema)["allOf"][0]["$ref"].endswith("/Envelope"), operation_id


def test_liberal_fields(spec: dict[str, Any]) -> None:
    """Fields the server is known to vary are typed loosely enough to always parse."""
    expire = schema(spec, "UploadSignData")["properties"]["expireTime"]
    assert {"type": "integer"} in expire["anyOf"]
    assert {"type": "string"} in expire["anyOf"]
    result = schema(spec, "ComfyResultData")["properties"]
    assert result["result"]["additionalProperties"] is True
    assert "null" in result["result"]["type"]
    for name in ("ComfyPromptData", "ComfyProgressData", "ComfyResultData", "UploadSignData"):
        assert "required" not in schema(spec, name), name
