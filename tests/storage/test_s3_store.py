"""S3-specific behaviour against moto, including the places moto is laxer than AWS.

moto 5.x accepts wrong checksums, shortened or downgraded retention and suspended versioning
on a lock bucket. The "canary" tests pin those laxities down: if one starts failing, moto got
stricter and the canary can go; our own checks, tested next to them, stay either way.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from archiver.core.errors import IntegrityError, ObjectLocked, StorageError
from archiver.storage.s3 import MiB, S3Store

from .conftest import make_s3_store

Write = Callable[[bytes], tuple[Path, str]]
FULL = "archive/v1/"  # the store prefix used by make_s3_store


def _b64(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


def _versions(client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    listing = client.list_object_versions(Bucket=bucket, Prefix=key)
    return [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]


def _once(client: Any, event: str, action: Callable[..., None]) -> None:
    """Run `action` the first time `event` fires on this client (a botocore hook)."""
    fired = []

    def handler(**kwargs: Any) -> None:
        if not fired:
            fired.append(True)
            action(**kwargs)

    client.meta.events.register(event, handler)


# -- bucket checks ----------------------------------------------------------------------


def test_check_bucket_accepts_lock_bucket(s3_store: S3Store) -> None:
    s3_store.check_bucket()


def test_check_bucket_without_object_lock(s3_client: Any, bucket: str) -> None:
    s3_client.create_bucket(Bucket=f"{bucket}-plain")
    store = S3Store(f"{bucket}-plain", "", s3_client)
    with pytest.raises(StorageError, match=f"bucket {bucket}-plain does not have Object Lock"):
        store.check_bucket()
    # versioning alone is not enough
    s3_client.put_bucket_versioning(
        Bucket=f"{bucket}-plain", VersioningConfiguration={"Status": "Enabled"}
    )
    with pytest.raises(StorageError, match="Object Lock"):
        store.check_bucket()


def test_check_bucket_missing(s3_client: Any) -> None:
    with pytest.raises(StorageError, match="bucket does not exist"):
        S3Store("no-such-bucket-here", "", s3_client).check_bucket()


def test_canary_moto_lets_versioning_be_suspended_and_we_notice(
    s3_client: Any, s3_store: S3Store, bucket: str
) -> None:
    s3_client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
    )  # AWS refuses this on an Object Lock bucket; moto accepts it
    with pytest.raises(StorageError, match="versioning Suspended"):
        s3_store.check_bucket()


# -- uploads ----------------------------------------------------------------------------


def test_upload_carries_our_digest_and_lock(s3_client: Any, bucket: str, write: Write) -> None:
    store = make_s3_store(s3_client, bucket, lock_mode="COMPLIANCE")
    path, digest = write(b"sealed warc bytes")
    until = datetime.now(UTC) + timedelta(days=2)
    stored = store.put_file("w.enc", path, sha256=digest, retain_until=until)
    head = s3_client.head_object(Bucket=bucket, Key=FULL + "w.enc", ChecksumMode="ENABLED")
    assert head["Metadata"] == {"sha256": digest}
    assert head["ChecksumSHA256"] == _b64(digest)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert stored.version_id == head["VersionId"]
    assert stored.retain_until == until.replace(microsecond=0) + timedelta(seconds=1)


def test_multipart_round_trip(
    s3_client: Any,
    bucket: str,
    s3_store: S3Store,
    write: Write,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = os.urandom(11 * MiB + 123)  # three parts of 5 MiB, 5 MiB, 1 MiB+123
    path, digest = write(data)
    until = datetime.now(UTC) + timedelta(days=1)
    stored = s3_store.put_file("big.enc", path, sha256=digest, retain_until=until)
    # moto ignores the lock headers of CreateMultipartUpload; the store notices and sets them
    assert "was not applied at upload" in caplog.text
    assert stored.retain_until == until.replace(microsecond=0) + timedelta(seconds=1)
    assert (stored.size, stored.sha256) == (len(data), digest)
    head = s3_client.head_object(Bucket=bucket, Key=FULL + "big.enc", ChecksumMode="ENABLED")
    part_digests = [
        hashlib.sha256(data[i : i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)
    ]
    composite = base64.b64encode(hashlib.sha256(b"".join(part_digests)).digest()).decode()
    assert head["ChecksumSHA256"].partition("-")[0] == composite
    assert head["ObjectLockMode"] == "GOVERNANCE"
    with s3_store.open("big.enc") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == digest
        fh.seek(5 * MiB - 3)
        assert fh.read(6) == data[5 * MiB - 3 : 5 * MiB + 3]
    boundary = s3_store.read_range("big.enc", 10 * MiB - 2, 4)
    assert boundary == data[10 * MiB - 2 : 10 * MiB + 2]
    assert s3_store.put_file("big.enc", path, sha256=digest) == stored  # idempotent
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_multipart_wrong_digest_is_aborted(
    s3_client: Any, bucket: str, s3_store: S3Store, write: Write
) -> None:
    path, _ = write(os.urandom(6 * MiB))
    with pytest.raises(IntegrityError, match="does not match the digest"):
        s3_store.put_file("big.enc", path, sha256="0" * 64)
    assert s3_store.head("big.enc") is None
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_multipart_conditional_complete_never_overwrites(
    new_client: Callable[[], Any], s3_client: Any, bucket: str, write: Write
) -> None:
    client = new_client()
    store = make_s3_store(client, bucket)
    path, digest = write(os.urandom(6 * MiB))
    squat = lambda **_: s3_client.put_object(  # noqa: E731
        Bucket=bucket, Key=FULL + "big.enc", Body=b"squatter", Metadata={"sha256": "1" * 64}
    )
    _once(client, "before-call.s3.CompleteMultipartUpload", squat)
    with pytest.raises(StorageError, match="already holds different bytes"):
        store.put_file("big.enc", path, sha256=digest)
    body = s3_client.get_object(Bucket=bucket, Key=FULL + "big.enc")["Body"].read()
    assert body == b"squatter"
    assert len(_versions(s3_client, bucket, FULL + "big.enc")) == 1
    assert not s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_object_put_behind_our_back_is_not_overwritten(
    s3_client: Any, s3_store: S3Store, bucket: str, write: Write
) -> None:
    path, digest = write(b"our bytes")
    s3_client.put_object(Bucket=bucket, Key=FULL + "k", Body=b"their bytes")
    with pytest.raises(StorageError, match="did not write"):
        s3_store.put_file("k", path, sha256=digest)
    # even a forged digest is caught when the size differs
    s3_client.put_object(
        Bucket=bucket, Key=FULL + "k2", Body=b"their bytes!", Metadata={"sha256": digest}
    )
    with pytest.raises(StorageError, match="different bytes"):
        s3_store.put_file("k2", path, sha256=digest)
    # same size and forged digest: only reading the bytes back can tell
    s3_client.put_object(
        Bucket=bucket, Key=FULL + "k3", Body=b"fak bytes", Metadata={"sha256": digest}
    )
    reader = make_s3_store(s3_client, bucket, verify_by_reading=True)
    with pytest.raises(IntegrityError, match="does not match its recorded digest"):
        reader.put_file("k3", path, sha256=digest)
    for key, body in (("k", b"their bytes"), ("k2", b"their bytes!"), ("k3", b"fak bytes")):
        assert s3_client.get_object(Bucket=bucket, Key=FULL + key)["Body"].read() == body


def test_race_lost_to_other_writer_is_refused(
    new_client: Callable[[], Any], s3_client: Any, bucket: str, write: Write
) -> None:
    """Our HEAD saw nothing; the key appears before our PUT; If-None-Match saves it."""
    client = new_client()
    store = make_s3_store(client, bucket)
    path, digest = write(b"ours")
    squat = lambda **_: s3_client.put_object(  # noqa: E731
        Bucket=bucket, Key=FULL + "k", Body=b"rival", Metadata={"sha256": "2" * 64}
    )
    _once(client, "before-call.s3.PutObject", squat)
    with pytest.raises(StorageError, match="already holds different bytes"):
        store.put_file("k", path, sha256=digest)
    assert s3_client.get_object(Bucket=bucket, Key=FULL + "k")["Body"].read() == b"rival"
    assert len(_versions(s3_client, bucket, FULL + "k")) == 1


def test_lost_response_retry_is_idempotent(
    new_client: Callable[[], Any], s3_client: Any, bucket: str, write: Write
) -> None:
    """Our first PUT landed but we never heard back: the 412 leads to the stored object."""
    client = new_client()
    store = make_s3_store(client, bucket)
    path, digest = write(b"ours")
    landed = lambda **_: s3_client.put_object(  # noqa: E731
        Bucket=bucket,
        Key=FULL + "k",
        Body=b"ours",
        Metadata={"sha256": digest},
        ChecksumAlgorithm="SHA256",
    )
    _once(client, "before-call.s3.PutObject", landed)
    stored = store.put_file("k", path, sha256=digest)
    assert stored.sha256 == digest
    assert len(_versions(s3_client, bucket, FULL + "k")) == 1


def test_canary_moto_accepts_a_wrong_checksum(s3_client: Any, bucket: str) -> None:
    """AWS answers BadDigest; moto stores the wrong value, so HEAD alone proves little."""
    wrong = _b64(hashlib.sha256(b"not the body").hexdigest())
    s3_client.put_object(
        Bucket=bucket, Key="x", Body=b"body", ChecksumAlgorithm="SHA256", ChecksumSHA256=wrong
    )
    head = s3_client.head_object(Bucket=bucket, Key="x", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == wrong


def test_bytes_altered_in_transit_are_caught_by_read_back(
    new_client: Callable[[], Any], bucket: str, write: Write
) -> None:
    def corrupt(request: Any, **_: Any) -> None:
        raw = request.body.read() if hasattr(request.body, "read") else request.body
        request.body = bytes([raw[0] ^ 0xFF]) + raw[1:]

    path, digest = write(b"the real bytes")
    lax = new_client()
    _once(lax, "before-send.s3.PutObject", corrupt)
    # With HEAD-only verification moto's echo of our own checksum passes the upload...
    make_s3_store(lax, bucket).put_file("heads", path, sha256=digest)
    strict = new_client()
    _once(strict, "before-send.s3.PutObject", corrupt)
    # ...reading back does not.
    with pytest.raises(IntegrityError, match="did not verify"):
        make_s3_store(strict, bucket, verify_by_reading=True).put_file("reads", path, sha256=digest)
    # and the corruption is found at the latest when the object is opened
    with pytest.raises(IntegrityError):
        make_s3_store(new_client(), bucket).open("heads")


def test_bit_rot_detected_on_open(s3_store: S3Store, bucket: str, write: Write) -> None:
    path, digest = write(b"A" * 1000)
    s3_store.put_file("rot", path, sha256=digest)
    fake_key = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets[bucket].keys[FULL + "rot"]
    fake_key.value = b"A" * 999 + b"B"  # flip a byte inside the in-process moto backend
    with pytest.raises(IntegrityError, match="fixity failure"):
        s3_store.open("rot")


def test_past_retain_until_stores_unlocked(s3_store: S3Store, write: Write) -> None:
    """AWS refuses past dates (moto accepts them); we send no lock, since none applies."""
    path, digest = write(b"old record")
    stored = s3_store.put_file(
        "k", path, sha256=digest, retain_until=datetime(2001, 1, 1, tzinfo=UTC)
    )
    assert stored.retain_until is None
    s3_store.delete("k")


# -- retention and holds ----------------------------------------------------------------


def test_canary_moto_shortens_compliance_retention(s3_client: Any, bucket: str) -> None:
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    s3_client.put_object(
        Bucket=bucket,
        Key="c",
        Body=b"x",
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    s3_client.put_object_retention(
        Bucket=bucket,
        Key="c",
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - timedelta(days=5)},
    )
    head = s3_client.head_object(Bucket=bucket, Key="c")
    assert head["ObjectLockMode"] == "GOVERNANCE"  # AWS: AccessDenied
    assert head["ObjectLockRetainUntilDate"] < until


def test_extend_keeps_compliance_and_never_sends_shorter(
    new_client: Callable[[], Any], s3_client: Any, bucket: str, write: Write
) -> None:
    compliance = make_s3_store(s3_client, bucket, lock_mode="COMPLIANCE")
    path, digest = write(b"x")
    start = datetime.now(UTC).replace(microsecond=0)
    compliance.put_file("k", path, sha256=digest, retain_until=start + timedelta(days=10))

    client = new_client()
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-call.s3.PutObjectRetention", lambda params, **_: sent.append(params)
    )
    governance = make_s3_store(client, bucket, lock_mode="GOVERNANCE")
    governance.extend_retention("k", start + timedelta(days=3))  # earlier: not sent at all
    assert sent == []
    stored = governance.extend_retention("k", start + timedelta(days=20))
    assert stored.retain_until == start + timedelta(days=20)
    assert len(sent) == 1
    head = s3_client.head_object(Bucket=bucket, Key=FULL + "k")
    assert head["ObjectLockMode"] == "COMPLIANCE"


def test_governance_object_upgraded_when_settings_say_compliance(
    s3_client: Any, s3_store: S3Store, bucket: str, write: Write
) -> None:
    path, digest = write(b"x")
    start = datetime.now(UTC).replace(microsecond=0)
    s3_store.put_file("k", path, sha256=digest, retain_until=start + timedelta(days=1))
    make_s3_store(s3_client, bucket, lock_mode="COMPLIANCE").extend_retention(
        "k", start + timedelta(days=2)
    )
    assert s3_client.head_object(Bucket=bucket, Key=FULL + "k")["ObjectLockMode"] == "COMPLIANCE"


def test_legal_hold_covers_every_version(
    s3_client: Any, s3_store: S3Store, bucket: str, write: Write
) -> None:
    path, digest = write(b"record")
    s3_store.put_file("k", path, sha256=digest)
    s3_client.put_object(Bucket=bucket, Key=FULL + "k", Body=b"record", Metadata={"sha256": digest})
    s3_store.set_legal_hold("k", True)
    for version in _versions(s3_client, bucket, FULL + "k"):
        status = s3_client.get_object_legal_hold(
            Bucket=bucket, Key=FULL + "k", VersionId=version["VersionId"]
        )
        assert status["LegalHold"]["Status"] == "ON"
    with pytest.raises(ObjectLocked):
        s3_store.delete("k")
    assert len(_versions(s3_client, bucket, FULL + "k")) == 2


def test_delete_removes_all_versions_and_delete_markers(
    s3_client: Any, s3_store: S3Store, bucket: str, write: Write
) -> None:
    path, digest = write(b"record")
    s3_store.put_file("k", path, sha256=digest)
    s3_client.delete_object(Bucket=bucket, Key=FULL + "k")  # an unversioned delete: a marker
    assert s3_store.head("k") is None
    assert len(_versions(s3_client, bucket, FULL + "k")) == 2
    s3_store.delete("k")
    assert _versions(s3_client, bucket, FULL + "k") == []


def test_delete_refused_by_our_check_before_asking_s3(
    new_client: Callable[[], Any], bucket: str, write: Write
) -> None:
    client = new_client()
    calls: list[str] = []
    client.meta.events.register("before-call.s3.DeleteObject", lambda **_: calls.append("x"))
    store = make_s3_store(client, bucket)
    path, digest = write(b"record")
    store.put_file("k", path, sha256=digest, retain_until=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(ObjectLocked, match="retained until"):
        store.delete("k")
    assert calls == []


def test_delete_refused_by_s3_when_our_clock_is_ahead(
    s3_client: Any, bucket: str, write: Write
) -> None:
    """A wrong local clock must not let anything through: S3's 403 becomes ObjectLocked."""
    ahead = make_s3_store(s3_client, bucket, now=lambda: datetime.now(UTC) + timedelta(days=400))
    path, digest = write(b"record")
    honest = make_s3_store(s3_client, bucket)
    honest.put_file("k", path, sha256=digest, retain_until=datetime.now(UTC) + timedelta(days=30))
    with pytest.raises(ObjectLocked, match="S3 refused"):
        ahead.delete("k")
    assert honest.head("k") is not None


# -- client and prefix ------------------------------------------------------------------


def test_client_configuration(s3_client: Any) -> None:
    config = s3_client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert config.request_checksum_calculation == "when_supported"
    assert config.response_checksum_validation == "when_supported"


def test_prefix_isolates_stores(s3_client: Any, bucket: str, write: Write) -> None:
    one = S3Store(bucket, "one", s3_client)
    two = S3Store(bucket, "two/", s3_client)
    path, digest = write(b"x")
    one.put_file("k", path, sha256=digest)
    assert list(one.keys()) == ["k"] and list(two.keys()) == []
    assert two.head("k") is None
    assert s3_client.head_object(Bucket=bucket, Key="one/k")["ContentLength"] == 1


def test_credentials_never_logged(
    caplog: pytest.LogCaptureFixture, s3_store: S3Store, write: Write
) -> None:
    caplog.set_level(logging.DEBUG, logger="archiver")
    path, digest = write(b"x")
    s3_store.put_file("k", path, sha256=digest)
    s3_store.delete("k")
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("archiver"))
    assert "stored k" in text
    for secret in ("testing-secret-key", "testing-access-key", "testing-session-token"):
        assert secret not in text


def test_constructor_validates_settings(s3_client: Any) -> None:
    with pytest.raises(ValueError, match="lock_mode"):
        S3Store("b-b-b", "", s3_client, lock_mode="governance")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="part_size"):
        S3Store("b-b-b", "", s3_client, part_size=MiB)
