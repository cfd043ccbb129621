"""Shared fixtures for the vault tests: real keys in temp key files, and moto KMS over HTTP."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from archiver.vault import (
    EncryptedInfo,
    KeyFileProvider,
    KeyProvider,
    WrappedKey,
    decrypt_stream,
    encrypt_stream,
)

CONTEXT = {"account": "district-0042/facebook/1234567890", "object": "warc/2026/11/abc.warc.gz"}

Seal = Callable[..., tuple[bytes, EncryptedInfo]]
Unseal = Callable[..., bytes]


@pytest.fixture(scope="session")
def context() -> dict[str, str]:
    return dict(CONTEXT)


@pytest.fixture(scope="session")
def keyfile(tmp_path_factory: pytest.TempPathFactory) -> KeyFileProvider:
    """One key file for property tests that never rotate it."""
    return KeyFileProvider(tmp_path_factory.mktemp("home") / "vault" / "keys.json")


@pytest.fixture
def fresh_keyfile(tmp_path: Path) -> KeyFileProvider:
    """A key file of its own, for tests that rotate or destroy keys."""
    return KeyFileProvider(tmp_path / "home" / "keys.json")


def _seal(
    data: bytes,
    provider: KeyProvider,
    *,
    context: dict[str, str] = CONTEXT,
    segment_size: int = 64,
    embed_wrapped_key: bool = True,
) -> tuple[bytes, EncryptedInfo]:
    out = io.BytesIO()
    info = encrypt_stream(
        io.BytesIO(data),
        out,
        provider,
        context=context,
        segment_size=segment_size,
        embed_wrapped_key=embed_wrapped_key,
    )
    return out.getvalue(), info


def _unseal(
    ciphertext: bytes,
    provider: KeyProvider,
    *,
    context: dict[str, str] = CONTEXT,
    wrapped_key: WrappedKey | None = None,
) -> bytes:
    chunks = decrypt_stream(
        io.BytesIO(ciphertext), provider, context=context, wrapped_key=wrapped_key
    )
    return b"".join(chunks)


@pytest.fixture(scope="session")
def seal() -> Seal:
    """seal(data, provider, **kw) -> (ciphertext bytes, EncryptedInfo); 64-byte segments."""
    return _seal


@pytest.fixture(scope="session")
def unseal() -> Unseal:
    """unseal(ciphertext, provider, **kw) -> plaintext, consuming every segment."""
    return _unseal


class CountingFetch:
    """A Fetch over bytes that records every (offset, length) asked for."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []

    def __call__(self, offset: int, length: int) -> bytes:
        self.calls.append((offset, length))
        return self.data[offset : offset + length]

    @property
    def bytes_returned(self) -> int:
        return sum(len(self.data[o : o + n]) for o, n in self.calls)


@pytest.fixture(scope="session")
def counting_fetch() -> type[CountingFetch]:
    return CountingFetch


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on a free port, so boto3 runs its real HTTP code paths."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        # dummy credentials only: nothing here may ever reach real AWS
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }.items():
            mp.setenv(name, value)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="session")
def kms_client(moto_endpoint: str) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
