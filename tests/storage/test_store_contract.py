"""The ObjectStore contract, run against the local folder and S3 (moto) alike.

Time: the local store takes an injected clock, which the tests move. S3 Object Lock is
enforced by the server's real clock and S3 refuses retain-until dates in the past, so the S3
run of "deletable once retention has passed" locks for about two seconds and waits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.core.errors import IntegrityError, ObjectLocked, StorageError
from archiver.storage.base import InvalidKey, NoSuchObject

from .conftest import Harness

Write = Callable[[bytes], tuple[Path, str]]
DATA = b"WARC/1.1\r\n" + bytes(range(256)) * 40


def test_put_then_read_back(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    stored = harness.store.put_file("district/2026/a.warc.gz.enc", path, sha256=digest)
    assert (stored.key, stored.size, stored.sha256) == (
        "district/2026/a.warc.gz.enc",
        len(DATA),
        digest,
    )
    assert stored.retain_until is None and stored.legal_hold is False
    assert harness.store.head("district/2026/a.warc.gz.enc") == stored
    with harness.store.open("district/2026/a.warc.gz.enc") as fh:
        assert fh.read() == DATA
        fh.seek(len(DATA) - 10)
        assert fh.read() == DATA[-10:]


def test_digest_is_case_insensitive(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    stored = harness.store.put_file("k", path, sha256=digest.upper())
    assert stored.sha256 == digest


def test_retry_with_same_bytes_is_idempotent(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    first = harness.store.put_file("k", path, sha256=digest)
    again, _ = write(DATA)  # a retry may come from a fresh copy of the file
    assert harness.store.put_file("k", again, sha256=digest) == first
    assert list(harness.store.keys()) == ["k"]


def test_different_bytes_under_same_key_are_refused(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    harness.store.put_file("k", path, sha256=digest)
    other, other_digest = write(DATA + b"!")
    with pytest.raises(StorageError, match="Refusing to overwrite k"):
        harness.store.put_file("k", other, sha256=other_digest)
    with harness.store.open("k") as fh:
        assert fh.read() == DATA


def test_source_not_matching_its_digest_is_not_stored(harness: Harness, write: Write) -> None:
    path, _ = write(DATA)
    _, wrong = write(b"something else")
    with pytest.raises(IntegrityError):
        harness.store.put_file("k", path, sha256=wrong)
    assert harness.store.head("k") is None
    assert list(harness.store.keys()) == []


def test_empty_object(harness: Harness, write: Write) -> None:
    path, digest = write(b"")
    assert harness.store.put_file("empty", path, sha256=digest).size == 0
    assert harness.store.read_range("empty", 0, 10) == b""
    with harness.store.open("empty") as fh:
        assert fh.read() == b""


@pytest.mark.parametrize(
    ("offset", "length"),
    [
        (0, 1),
        (0, len(DATA)),
        (10, 100),
        (len(DATA) - 5, 5),
        (len(DATA) - 5, 50),
        (len(DATA), 10),
        (len(DATA) + 100, 10),
        (7, 0),
    ],
)
def test_read_range_matches_slicing(
    harness: Harness, write: Write, offset: int, length: int
) -> None:
    path, digest = write(DATA)
    harness.store.put_file("r", path, sha256=digest)
    assert harness.store.read_range("r", offset, length) == DATA[offset : offset + length]


def test_missing_objects(harness: Harness) -> None:
    store = harness.store
    assert store.head("nope") is None
    for call in (
        lambda: store.open("nope"),
        lambda: store.read_range("nope", 0, 5),
        lambda: store.read_range("nope", 0, 0),
        lambda: store.extend_retention("nope", datetime.now(UTC) + timedelta(days=1)),
        lambda: store.set_legal_hold("nope", True),
        lambda: store.delete("nope"),
    ):
        with pytest.raises(NoSuchObject):
            call()


def test_keys_by_prefix_in_order(harness: Harness, write: Write) -> None:
    names = ["b/2", "a/x/1", "a/b", "a-c", "a/x/0", "ab", "c"]
    for name in names:
        path, digest = write(name.encode())
        harness.store.put_file(name, path, sha256=digest)
    assert list(harness.store.keys()) == sorted(names)
    assert list(harness.store.keys("a/")) == ["a/b", "a/x/0", "a/x/1"]
    assert list(harness.store.keys("a/x")) == ["a/x/0", "a/x/1"]
    assert list(harness.store.keys("a")) == ["a-c", "a/b", "a/x/0", "a/x/1", "ab"]
    assert list(harness.store.keys("zzz")) == []
    assert list(harness.store.keys("no/such/")) == []


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs",
        "../up",
        "a/../b",
        "a/./b",
        "a//b",
        "a/",
        ".hidden",
        "a/.tmp",
        "a\\b",
        "x.meta.json",
        "nul\x00",
        "k" * 1025,
    ],
)
def test_unsafe_keys_are_refused(harness: Harness, write: Write, key: str) -> None:
    path, digest = write(DATA)
    with pytest.raises(InvalidKey):
        harness.store.put_file(key, path, sha256=digest)
    with pytest.raises(InvalidKey):
        harness.store.head(key)


def test_retention_only_extends(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    start = harness.now().replace(microsecond=0)
    first = start + timedelta(days=30, microseconds=1)  # rounds up to a whole second
    stored = harness.store.put_file("k", path, sha256=digest, retain_until=first)
    assert stored.retain_until == start + timedelta(days=30, seconds=1)

    later = start + timedelta(days=400)
    assert harness.store.extend_retention("k", later).retain_until == later
    # An earlier date is ignored, not applied (moto would shorten if we asked it to).
    assert harness.store.extend_retention("k", first).retain_until == later
    head = harness.store.head("k")
    assert head is not None and head.retain_until == later


def test_retry_with_later_retention_extends_it(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    start = harness.now().replace(microsecond=0)
    harness.store.put_file("k", path, sha256=digest, retain_until=start + timedelta(days=1))
    again = harness.store.put_file("k", path, sha256=digest, retain_until=start + timedelta(days=9))
    assert again.retain_until == start + timedelta(days=9)
    same = harness.store.put_file("k", path, sha256=digest, retain_until=start + timedelta(days=2))
    assert same.retain_until == start + timedelta(days=9)


def test_naive_dates_are_refused(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    with pytest.raises(ValueError, match="timezone-aware"):
        harness.store.put_file("k", path, sha256=digest, retain_until=datetime(2099, 1, 1))


def test_delete_refused_under_retention(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    until = (harness.now() + timedelta(days=3650)).replace(microsecond=0)
    harness.store.put_file("k", path, sha256=digest, retain_until=until)
    with pytest.raises(ObjectLocked, match=f"retained until {until:%Y-%m-%d}"):
        harness.store.delete("k")
    assert harness.store.read_range("k", 0, 4) == b"WARC"


def test_delete_refused_under_legal_hold_until_released(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    harness.store.put_file("k", path, sha256=digest)
    assert harness.store.set_legal_hold("k", True).legal_hold is True
    assert harness.store.set_legal_hold("k", True).legal_hold is True  # idempotent
    with pytest.raises(ObjectLocked, match="legal hold"):
        harness.store.delete("k")
    assert harness.store.set_legal_hold("k", False).legal_hold is False
    harness.store.delete("k")
    assert harness.store.head("k") is None


def test_retention_expiry_then_delete_but_not_while_held(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    until = harness.now() + timedelta(seconds=1)
    stored = harness.store.put_file("k", path, sha256=digest, retain_until=until)
    assert stored.retain_until is not None
    harness.store.set_legal_hold("k", True)
    with pytest.raises(ObjectLocked):
        harness.store.delete("k")
    harness.wait_until_after(stored.retain_until)
    with pytest.raises(ObjectLocked, match="legal hold"):  # a hold outlasts retention
        harness.store.delete("k")
    harness.store.set_legal_hold("k", False)
    harness.store.delete("k")
    assert harness.store.head("k") is None
    assert list(harness.store.keys()) == []


def test_delete_unlocked_object_and_reuse_key(harness: Harness, write: Write) -> None:
    path, digest = write(DATA)
    harness.store.put_file("a/b/k", path, sha256=digest)
    harness.store.delete("a/b/k")
    assert harness.store.head("a/b/k") is None
    with pytest.raises(NoSuchObject):
        harness.store.delete("a/b/k")
    other, other_digest = write(b"new content")
    assert harness.store.put_file("a/b/k", other, sha256=other_digest).sha256 == other_digest


def test_url_names_the_store(harness: Harness) -> None:
    expected = "file://" if harness.kind == "local" else "s3://"
    assert harness.store.url.startswith(expected)
