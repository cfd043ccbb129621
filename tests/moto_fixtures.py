"""moto in server mode (S3 and KMS) on 127.0.0.1 for whole-pipeline tests.

Import the fixtures into a test module. The server is shared by the module; every test gets
dummy credentials through monkeypatch (so nothing can reach real AWS and no developer profile
is read), a fresh Object Lock bucket and a fresh KMS key.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from archiver.storage.s3_client import make_s3_client

REGION = "us-east-1"
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-access-key",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_SESSION_TOKEN": "testing-session-token",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
CLEARED = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KMS")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # verbose=False still logs access
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert host == "127.0.0.1"
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> str:
    """Dummy credentials for this test only; returns the moto endpoint."""
    for name, value in DUMMY_ENV.items():
        monkeypatch.setenv(name, value)
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    return moto_url


@pytest.fixture
def s3(aws_env: str) -> Any:
    return make_s3_client(endpoint_url=aws_env, region=REGION, max_attempts=2)


@pytest.fixture
def kms(aws_env: str) -> Any:
    return boto3.client("kms", endpoint_url=aws_env, region_name=REGION)


@pytest.fixture
def lock_bucket(s3: Any) -> str:
    """A new bucket with versioning and Object Lock, as the archive requires."""
    name = f"archive-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def kms_key(kms: Any) -> str:
    return str(kms.create_key(Description="archive test key")["KeyMetadata"]["KeyId"])
