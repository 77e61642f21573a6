from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.upload_sign_request import UploadSignRequest
from ...models.upload_sign_response import UploadSignResponse
from ...types import Response


def _get_kwargs(
    *,
    body: UploadSignRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/scc/sp_create_temp_file_upload_sign",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> UploadSignResponse | None:
    if response.status_code == 200:
        response_200 = UploadSignResponse.from_dict(response.json())

        return response_200

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[UploadSignResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: UploadSignRequest,
) -> Response[UploadSignResponse]:
    """Get a presigned URL for a temporary file upload

     Step 1 of an upload. Step 2 (not in this spec, it is not a gateway call) is an
    unsigned `PUT <uploadUrl>` of the raw bytes with the same `Content-Type` as
    `contentType` here; step 3 puts `accessUrl` into the workflow inputs.
    Known only from the official SDKs; no product documentation page exists.

    Args:
        body (UploadSignRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[UploadSignResponse]
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
    body: UploadSignRequest,
) -> UploadSignResponse | None:
    """Get a presigned URL for a temporary file upload

     Step 1 of an upload. Step 2 (not in this spec, it is not a gateway call) is an
    unsigned `PUT <uploadUrl>` of the raw bytes with the same `Content-Type` as
    `contentType` here; step 3 puts `accessUrl` into the workflow inputs.
    Known only from the official SDKs; no product documentation page exists.

    Args:
        body (UploadSignRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        UploadSignResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: UploadSignRequest,
) -> Response[UploadSignResponse]:
    """Get a presigned URL for a temporary file upload

     Step 1 of an upload. Step 2 (not in this spec, it is not a gateway call) is an
    unsigned `PUT <uploadUrl>` of the raw bytes with the same `Content-Type` as
    `contentType` here; step 3 puts `accessUrl` into the workflow inputs.
    Known only from the official SDKs; no product documentation page exists.

    Args:
        body (UploadSignRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[UploadSignResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: UploadSignRequest,
) -> UploadSignResponse | None:
    """Get a presigned URL for a temporary file upload

     Step 1 of an upload. Step 2 (not in this spec, it is not a gateway call) is an
    unsigned `PUT <uploadUrl>` of the raw bytes with the same `Content-Type` as
    `contentType` here; step 3 puts `accessUrl` into the workflow inputs.
    Known only from the official SDKs; no product documentation page exists.

    Args:
        body (UploadSignRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        UploadSignResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
