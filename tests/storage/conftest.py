"""Fixtures of the object-storage tests: a real S3-compatible server on loopback (moto's
server mode), s3fs pointed at it with dummy credentials (nothing may contact AWS), an
emulator whose workflow returns any output node, and a scriptable storage host."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import speedpix
from speedpix.testing import Emulator

from ..hostile._server import HostileServer

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

FAST: dict[str, Any] = {"retry_delay": 0.01, "max_retries": 1}
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
    from moto.server import ThreadedMotoServer

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
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    """Every object in ``bucket`` and its content, read with boto3 (no s3fs cache)."""
    client = s3_client(endpoint)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def pending_uploads(endpoint: str, bucket: str) -> list[Any]:
    return list(s3_client(endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def _echo_node(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"images": inputs["node"]}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.register("echo-node", _echo_node, duration=0.0)
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[speedpix.Client]:
    with emu.client(**FAST) as c:
        yield c


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as s:
        yield s


def output_node(client: speedpix.Client, url: str, **fields: Any) -> speedpix.FileNode:
    """What ``client.run()`` returns for a result node ``{"url": url, **fields}``."""
    node = client.run("echo-node", {"node": {"url": url, **fields}}, polling_interval=0.005)["images"]
    assert isinstance(node, speedpix.FileNode)
    return node
