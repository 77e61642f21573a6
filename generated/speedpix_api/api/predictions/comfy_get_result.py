from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.comfy_result_response import ComfyResultResponse
from ...models.task_id_request import TaskIdRequest
from ...types import Response


def _get_kwargs(
    *,
    body: TaskIdRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/scc/comfy_get_result",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ComfyResultResponse | None:
    if response.status_code == 200:
        response_200 = ComfyResultResponse.from_dict(response.json())

        return response_200

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ComfyResultResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: TaskIdRequest,
) -> Response[ComfyResultResponse]:
    """Query a task's result

     Safe to repeat. For a failed task the envelope has `status` 20 and the
    failure in `errCode`/`subErrCode`/`subErrMessage`.

    Args:
        body (TaskIdRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ComfyResultResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: TaskIdRequest,
) -> ComfyResultResponse | None:
    """Query a task's result

     Safe to repeat. For a failed task the envelope has `status` 20 and the
    failure in `errCode`/`subErrCode`/`subErrMessage`.

    Args:
        body (TaskIdRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ComfyResultResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: TaskIdRequest,
) -> Response[ComfyResultResponse]:
    """Query a task's result

     Safe to repeat. For a failed task the envelope has `status` 20 and the
    failure in `errCode`/`subErrCode`/`subErrMessage`.

    Args:
        body (TaskIdRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ComfyResultResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: TaskIdRequest,
) -> ComfyResultResponse | None:
    """Query a task's result

     Safe to repeat. For a failed task the envelope has `status` 20 and the
    failure in `errCode`/`subErrCode`/`subErrMessage`.

    Args:
        body (TaskIdRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ComfyResultResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
