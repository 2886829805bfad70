"""A real S3/KMS HTTP API on loopback (moto's server mode) for tests, plus AWS CLI helpers.

moto accepts wrong checksums and unknown KMS keys, so negative paths use botocore's Stubber;
everything else talks HTTP to this server exactly as it would to AWS.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass
class MotoServer:
    """A running server and its endpoint URL."""

    url: str
    server: Any

    def client(self, service: str) -> Any:
        """A boto3 client pointed at the server."""
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1")

    def reset(self) -> None:
        """Forget every bucket and key (moto's reset API)."""
        import urllib.request

        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
            resp.read()


def start_moto() -> Iterator[MotoServer]:
    """Start a server on a free loopback port; credentials are fake and set in the env."""
    saved = {k: os.environ.get(k) for k in FAKE_ENV}
    os.environ.update(FAKE_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield MotoServer(f"http://{host}:{port}", server)
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def aws_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the AWS CLI against the server (an independent client: its own parser and signer)."""
    env = {**os.environ, **FAKE_ENV}
    return subprocess.run(
        ["aws", "--endpoint-url", url, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
