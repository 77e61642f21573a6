"""A real S3-compatible server on loopback (moto's server mode) and s3fs pointed at it
with dummy credentials: nothing may contact AWS. s3fs needs aiobotocore, which needs a
newer aiohttp than our floor, so .ci/run's lowest-versions suite leaves this folder out."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

# Dummy credentials and no instance metadata: s3fs, botocore and boto3 never reach AWS.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    saved = {key: os.environ.get(key) for key in AWS_ENV}
    os.environ.update(AWS_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A new, empty bucket."""
    name = f"out-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    """Every object in ``bucket`` and its content, read with boto3 (no s3fs cache)."""
    client = s3_client(endpoint)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def pending_uploads(endpoint: str, bucket: str) -> list[Any]:
    return list(s3_client(endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", []))
