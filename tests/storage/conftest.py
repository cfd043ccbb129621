"""Fixtures for the object store tests: a moto S3 server on 127.0.0.1 and store harnesses.

The moto server runs in-process (ThreadedMotoServer) so tests can also reach into its backend
to simulate bit rot. Dummy credentials exist only while the session fixture is active, and the
client is pointed at 127.0.0.1 explicitly, so nothing can reach real AWS.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from archiver.storage.base import ObjectStore
from archiver.storage.local import LocalFolderStore
from archiver.storage.s3 import MiB, S3Store
from archiver.storage.s3_client import make_s3_client

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-access-key",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_SESSION_TOKEN": "testing-session-token",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
_CLEARED = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    saved = {name: os.environ.get(name) for name in (*_FAKE_ENV, *_CLEARED)}
    os.environ.update(_FAKE_ENV)
    for name in _CLEARED:
        os.environ.pop(name, None)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # verbose=False still logs access
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()  # the real port behind port=0
        assert host == "127.0.0.1"
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    return make_s3_client(endpoint_url=moto_endpoint, region="us-east-1", max_attempts=2)


@pytest.fixture
def new_client(moto_endpoint: str) -> Callable[[], Any]:
    """A fresh client, for tests that hook botocore events and must not leak them."""
    return lambda: make_s3_client(endpoint_url=moto_endpoint, region="us-east-1", max_attempts=2)


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A new Object Lock bucket per test, so tests never see each other's objects."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def make_s3_store(client: Any, bucket: str, **options: Any) -> S3Store:
    options.setdefault("multipart_threshold", 5 * MiB)
    options.setdefault("part_size", 5 * MiB)
    return S3Store(bucket, "archive/v1", client, **options)


@pytest.fixture
def s3_store(s3_client: Any, bucket: str) -> S3Store:
    return make_s3_store(s3_client, bucket)


class ManualNow:
    """An injectable `now` that moves only when told; starts at the real time."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class Harness:
    """One store under the contract, plus how to let time pass for it."""

    kind: str
    store: ObjectStore
    now: Callable[[], datetime]
    manual: ManualNow | None = None

    def wait_until_after(self, when: datetime) -> None:
        """Local: move the injected clock. S3: the server's real clock decides, so sleep."""
        if self.manual is not None:
            self.manual.advance(when - self.manual() + timedelta(seconds=1))
            return
        while datetime.now(UTC) <= when + timedelta(milliseconds=200):
            time.sleep(0.1)


@pytest.fixture(params=["local", "s3"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if request.param == "local":
        manual = ManualNow()
        return Harness("local", LocalFolderStore(tmp_path / "store", now=manual), manual, manual)
    client = request.getfixturevalue("s3_client")
    store = make_s3_store(client, request.getfixturevalue("bucket"))
    return Harness("s3", store, lambda: datetime.now(UTC))


@pytest.fixture
def write(tmp_path: Path) -> Callable[[bytes], tuple[Path, str]]:
    """Write bytes to a fresh source file; return its path and SHA-256."""
    counter = iter(range(1_000_000))

    def _write(data: bytes) -> tuple[Path, str]:
        path = tmp_path / "src" / f"file-{next(counter)}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return path, hashlib.sha256(data).hexdigest()

    return _write
