from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.comfy_prompt_request import ComfyPromptRequest
from ...models.comfy_prompt_response import ComfyPromptResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: ComfyPromptRequest,
    x_sp_resource_config_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_sp_resource_config_id, Unset):
        headers["X-SP-RESOURCE-CONFIG-ID"] = x_sp_resource_config_id

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/scc/comfy_prompt",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ComfyPromptResponse | None:
    if response.status_code == 200:
        response_200 = ComfyPromptResponse.from_dict(response.json())

        return response_200

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ComfyPromptResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ComfyPromptRequest,
    x_sp_resource_config_id: str | Unset = UNSET,
) -> Response[ComfyPromptResponse]:
    """Submit a workflow task

     Creates a (billed) task that runs a published workflow. Returns the task id
    to poll. Not idempotent: a repeated request creates a second task.

    Args:
        x_sp_resource_config_id (str | Unset):
        body (ComfyPromptRequest): Exactly one of `alias_id` / `version_id` is expected.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ComfyPromptResponse]
    """

    kwargs = _get_kwargs(
        body=body,
        x_sp_resource_config_id=x_sp_resource_config_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: ComfyPromptRequest,
    x_sp_resource_config_id: str | Unset = UNSET,
) -> ComfyPromptResponse | None:
    """Submit a workflow task

     Creates a (billed) task that runs a published workflow. Returns the task id
    to poll. Not idempotent: a repeated request creates a second task.

    Args:
        x_sp_resource_config_id (str | Unset):
        body (ComfyPromptRequest): Exactly one of `alias_id` / `version_id` is expected.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ComfyPromptResponse
    """

    return sync_detailed(
        client=client,
        body=body,
        x_sp_resource_config_id=x_sp_resource_config_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ComfyPromptRequest,
    x_sp_resource_config_id: str | Unset = UNSET,
) -> Response[ComfyPromptResponse]:
    """Submit a workflow task

     Creates a (billed) task that runs a published workflow. Returns the task id
    to poll. Not idempotent: a repeated request creates a second task.

    Args:
        x_sp_resource_config_id (str | Unset):
        body (ComfyPromptRequest): Exactly one of `alias_id` / `version_id` is expected.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ComfyPromptResponse]
    """

    kwargs = _get_kwargs(
        body=body,
        x_sp_resource_config_id=x_sp_resource_config_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: ComfyPromptRequest,
    x_sp_resource_config_id: str | Unset = UNSET,
) -> ComfyPromptResponse | None:
    """Submit a workflow task

     Creates a (billed) task that runs a published workflow. Returns the task id
    to poll. Not idempotent: a repeated request creates a second task.

    Args:
        x_sp_resource_config_id (str | Unset):
        body (ComfyPromptRequest): Exactly one of `alias_id` / `version_id` is expected.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ComfyPromptResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_sp_resource_config_id=x_sp_resource_config_id,
        )
    ).parsed
