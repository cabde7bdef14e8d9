"""An S3-compatible server for the object-storage tests: moto's server mode as a local process."""

from __future__ import annotations

import socket
import subprocess
import sys

import boto3
import pytest

from tests.support import free_port, wait_until_sync


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def s3_server():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_sync(lambda: _listening(port), timeout=30, what="moto's S3 server to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_server, request) -> dict[str, str]:
    """A fresh bucket; the settings that point the gateway at it."""
    name = "gw-" + request.node.name.lower().replace("_", "-")[:40].strip("-[]")
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    client.create_bucket(Bucket=name)
    client.close()
    return {"s3_bucket": name, "s3_endpoint_url": s3_server, "s3_region": "us-east-1",
            "s3_access_key_id": "test", "s3_secret_access_key": "test"}
