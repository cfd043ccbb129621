"""KMS provider against moto in server mode (real boto3 HTTP paths, dummy credentials)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archiver.core.errors import MissingKey, TamperedData, VaultError, WrongKey
from archiver.vault import (
    KeyFileProvider,
    KmsKeyProvider,
    RangeReader,
    RewrapRecord,
    decrypt_to_file,
    encrypt_file,
    parse_header,
    rewrap,
    rewrap_all,
)


@pytest.fixture
def kms_key(kms_client) -> str:
    return kms_client.create_key(Description="district-0042 2026 disposition cohort")[
        "KeyMetadata"
    ]["KeyId"]


def test_round_trip_through_kms(kms_client, kms_key, seal, unseal, context):
    provider = KmsKeyProvider(kms_key, kms_client)
    data = os.urandom(1000)
    ct, info = seal(data, provider)
    assert info.key_id.startswith("arn:aws:kms:us-east-1:") and info.key_id.endswith(kms_key)
    assert info.key_id == provider.key_id
    assert parse_header(ct).wrapped_key == info.wrapped_key
    assert unseal(ct, provider) == data


def test_alias_resolves_to_the_key_arn(kms_client, kms_key, seal):
    kms_client.create_alias(AliasName="alias/district-0042-test", TargetKeyId=kms_key)
    provider = KmsKeyProvider("alias/district-0042-test", kms_client)
    _, info = seal(b"x", provider)
    assert provider.key_id == info.key_id  # so "already current" checks compare ARNs


def test_wrong_encryption_context_is_wrong_key(kms_client, kms_key, seal, unseal, context):
    provider = KmsKeyProvider(kms_key, kms_client)
    ct, _ = seal(os.urandom(100), provider)
    with pytest.raises(WrongKey, match="context"):
        unseal(ct, provider, context={**context, "object": "warc/other.warc.gz"})


def test_unknown_kms_key_is_missing_key(kms_client, seal):
    provider = KmsKeyProvider("00000000-0000-0000-0000-000000000000", kms_client)
    with pytest.raises(MissingKey, match="not available"):
        seal(b"x", provider)


def test_tampering_is_still_tampered_under_kms(kms_client, kms_key, seal, unseal):
    provider = KmsKeyProvider(kms_key, kms_client)
    ct, info = seal(os.urandom(300), provider)
    damaged = bytearray(ct)
    damaged[info.header_size + 10] ^= 4
    with pytest.raises(TamperedData):
        unseal(bytes(damaged), provider)


def test_unreachable_kms_is_a_vault_error(moto_endpoint, seal):
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "kms",
        endpoint_url="http://127.0.0.1:9",  # discard port: connection refused
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(VaultError, match="could not be reached"):
        seal(b"x", KmsKeyProvider("any", client))


def test_kms_rotation_uses_reencrypt_and_new_key_decrypts(
    tmp_path: Path, kms_client, kms_key, context
):
    old = KmsKeyProvider(kms_key, kms_client)
    new_key = kms_client.create_key()["KeyMetadata"]["KeyId"]
    new = KmsKeyProvider(new_key, kms_client)
    src, enc = tmp_path / "plain", tmp_path / "enc"
    data = os.urandom(5000)
    src.write_bytes(data)
    info = encrypt_file(src, enc, old, context=context, segment_size=1024)
    before = enc.read_bytes()

    moved = rewrap(info.wrapped_key, info.key_id, context, old, new)
    assert moved.key_id == new.key_id != info.key_id
    assert enc.read_bytes() == before  # the object is never rewritten
    # KMS Decrypt is called with KeyId=<new key>, so this unwrap provably uses the new key
    out = tmp_path / "out"
    decrypt_to_file(enc, out, new, context=context, wrapped_key=moved)
    assert out.read_bytes() == data
    reader = RangeReader(lambda o, n: before[o : o + n], new, context=context, wrapped_key=moved)
    assert reader.read(1000, 100) == data[1000:1100]


def test_migrate_key_file_objects_to_kms(tmp_path: Path, kms_client, kms_key, seal, unseal):
    local = KeyFileProvider(tmp_path / "keys.json")
    kms = KmsKeyProvider(kms_key, kms_client)
    objects = {}
    for i in range(3):
        ctx = {"account": "district-0042/x/1", "object": f"warc/{i}"}
        objects[str(i)] = (ctx, *seal(os.urandom(200), local, context=ctx))
    saved = {}
    report = rewrap_all(
        (
            RewrapRecord(oid, info.wrapped_key, info.key_id, ctx)
            for oid, (ctx, _, info) in objects.items()
        ),
        local,
        kms,
        lambda rec, wk: saved.__setitem__(rec.object_id, wk),
    )
    assert (report.rewrapped, report.already_current, report.failed) == (3, 0, 0)
    (tmp_path / "keys.json").unlink()  # the local key file is no longer needed at all
    for oid, (ctx, ct, _) in objects.items():
        assert saved[oid].key_id == kms.key_id
        assert len(unseal(ct, kms, context=ctx, wrapped_key=saved[oid])) == 200
