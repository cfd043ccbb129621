"""Local-folder specifics: files on disk, crash leftovers, concurrency, the factory."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.core.errors import ConfigError, IntegrityError, ObjectLocked, StorageError
from archiver.storage import LocalFolderStore, open_store
from archiver.storage.s3 import S3Store

from .conftest import ManualNow

Write = Callable[[bytes], tuple[Path, str]]


@pytest.fixture
def clock() -> ManualNow:
    return ManualNow()


@pytest.fixture
def store(tmp_path: Path, clock: ManualNow) -> LocalFolderStore:
    return LocalFolderStore(tmp_path / "store", now=clock)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_layout_on_disk(store: LocalFolderStore, write: Write) -> None:
    path, digest = write(b"abc")
    until = datetime(2040, 6, 30, tzinfo=UTC)
    store.put_file("d/2026/x.enc", path, sha256=digest, retain_until=until)
    target = store.root / "d" / "2026" / "x.enc"
    assert target.read_bytes() == b"abc"
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
    meta = json.loads((store.root / "d/2026/x.enc.meta.json").read_text())
    assert meta["sha256"] == digest and meta["size"] == 3
    assert meta["retain_until"] == "2040-06-30T00:00:00+00:00" and meta["legal_hold"] is False
    # no temp files left behind; the lock file is hidden from keys()
    assert _files(store.root) == [".store.lock", "d/2026/x.enc", "d/2026/x.enc.meta.json"]
    assert list(store.keys()) == ["d/2026/x.enc"]


def test_key_that_is_a_folder_of_other_keys(store: LocalFolderStore, write: Write) -> None:
    """S3 allows both 'a' and 'a/b'; a folder cannot. Refused clearly, never half-written."""
    path, digest = write(b"x")
    store.put_file("a/b", path, sha256=digest)
    with pytest.raises(StorageError, match="folder"):
        store.put_file("a", path, sha256=digest)
    with pytest.raises(StorageError, match="an object already has that name"):
        store.put_file("a/b/c", path, sha256=digest)
    assert list(store.keys()) == ["a/b"]


def test_url_is_file_uri_of_root(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path / "a b")
    assert store.url == (tmp_path / "a b").resolve().as_uri()
    assert "%20" in store.url


def test_crash_between_link_and_sidecar_is_repaired_by_retry(
    store: LocalFolderStore, write: Write, clock: ManualNow
) -> None:
    path, digest = write(b"payload")
    store.put_file("k", path, sha256=digest)
    (store.root / "k.meta.json").unlink()  # as if the process died right after linking
    head = store.head("k")
    assert head is not None and head.sha256 == digest  # re-hashed from the bytes
    until = clock() + timedelta(days=5)
    again = store.put_file("k", path, sha256=digest, retain_until=until)
    assert again.retain_until == until.replace(microsecond=0) + timedelta(seconds=1)
    with pytest.raises(ObjectLocked):
        store.delete("k")


def test_stale_sidecar_from_a_crashed_delete_is_replaced(
    store: LocalFolderStore, write: Write
) -> None:
    path, digest = write(b"old")
    store.put_file("k", path, sha256=digest, retain_until=datetime(2000, 1, 1, tzinfo=UTC))
    (store.root / "k").unlink()  # delete died before removing the sidecar
    new, new_digest = write(b"new")
    stored = store.put_file("k", new, sha256=new_digest)
    assert stored.sha256 == new_digest and stored.retain_until is None


def test_bytes_altered_on_disk_are_reported_as_integrity_error(
    store: LocalFolderStore, write: Write
) -> None:
    path, digest = write(b"original")
    store.put_file("k", path, sha256=digest)
    target = store.root / "k"
    os.chmod(target, 0o644)
    target.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="altered on disk"):
        store.put_file("k", path, sha256=digest)


def test_damaged_sidecar_fails_loudly(store: LocalFolderStore, write: Write) -> None:
    path, digest = write(b"x")
    store.put_file("k", path, sha256=digest)
    sidecar = store.root / "k.meta.json"
    os.chmod(sidecar, 0o644)
    sidecar.write_text("{not json")
    with pytest.raises(StorageError, match="damaged"):
        store.delete("k")
    assert (store.root / "k").exists()


def test_concurrent_puts_of_one_key(store: LocalFolderStore, write: Write) -> None:
    same = [write(b"same bytes") for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda pd: store.put_file("k", pd[0], sha256=pd[1]), same))
    assert len({r.sha256 for r in results}) == 1

    rivals = [write(f"rival {i}".encode()) for i in range(8)]

    def attempt(pd: tuple[Path, str]) -> str:
        try:
            store.put_file("r", pd[0], sha256=pd[1])
            return "ok"
        except StorageError:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, rivals))
    assert outcomes.count("ok") == 1
    head = store.head("r")
    winner = rivals[outcomes.index("ok")]
    assert head is not None and head.sha256 == winner[1]
    assert (store.root / "r").read_bytes() == winner[0].read_bytes()
    assert not [p for p in _files(store.root) if p.endswith(".tmp")]


def test_extension_survives_a_new_store_instance(
    tmp_path: Path, write: Write, clock: ManualNow
) -> None:
    path, digest = write(b"x")
    first = LocalFolderStore(tmp_path / "s", now=clock)
    first.put_file("k", path, sha256=digest, retain_until=clock() + timedelta(days=1))
    first.extend_retention("k", clock() + timedelta(days=100))
    first.set_legal_hold("k", True)
    head = LocalFolderStore(tmp_path / "s", now=clock).head("k")
    assert head is not None and head.legal_hold
    assert head.retain_until is not None and head.retain_until > clock() + timedelta(days=99)


def test_default_retention(tmp_path: Path, write: Write, clock: ManualNow) -> None:
    store = LocalFolderStore(tmp_path / "s", now=clock, default_retention=timedelta(days=7))
    path, digest = write(b"x")
    stored = store.put_file("k", path, sha256=digest)
    assert stored.retain_until is not None
    assert timedelta(days=7) <= stored.retain_until - clock() <= timedelta(days=7, seconds=1)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=3000),
    offset=st.integers(min_value=0, max_value=3500),
    length=st.integers(min_value=0, max_value=3500),
)
def test_read_range_property(tmp_path: Path, data: bytes, offset: int, length: int) -> None:
    store = LocalFolderStore(tmp_path / "prop")
    key = f"p/{hashlib.sha256(data).hexdigest()}"
    if store.head(key) is None:
        src = tmp_path / "prop-src"
        src.write_bytes(data)
        store.put_file(key, src, sha256=hashlib.sha256(data).hexdigest())
    assert store.read_range(key, offset, length) == data[offset : offset + length]


# -- the factory -------------------------------------------------------------------------


def test_open_store_local_forms(tmp_path: Path) -> None:
    plain = open_store(str(tmp_path / "a"))
    assert isinstance(plain, LocalFolderStore) and plain.root == (tmp_path / "a").resolve()
    uri = open_store((tmp_path / "b c").as_uri())
    assert isinstance(uri, LocalFolderStore) and uri.root == (tmp_path / "b c").resolve()
    local = open_store(f"file://localhost{tmp_path}/c")
    assert isinstance(local, LocalFolderStore) and local.root == (tmp_path / "c").resolve()


def test_open_store_passes_options(tmp_path: Path, clock: ManualNow) -> None:
    store = open_store(str(tmp_path / "s"), now=clock)
    assert isinstance(store, LocalFolderStore) and store._now is clock


def test_open_store_s3(s3_client: Any, bucket: str) -> None:
    store = open_store(f"s3://{bucket}/district/one/", client=s3_client, lock_mode="COMPLIANCE")
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.lock_mode) == (bucket, "district/one", "COMPLIANCE")
    assert store.url == f"s3://{bucket}/district/one"
    store.check_bucket()


def test_open_store_s3_builds_its_client(moto_endpoint: str, bucket: str) -> None:
    store = open_store(f"s3://{bucket}", endpoint_url=moto_endpoint, region="us-east-1")
    assert isinstance(store, S3Store) and store.prefix == ""
    store.check_bucket()


@pytest.mark.parametrize(
    "url", ["", "  ", "s3://", "s3:///prefix", "ftp://host/x", "file://otherhost/srv/x"]
)
def test_open_store_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


def test_a_put_fsyncs_the_bytes_the_sidecar_and_then_the_folder_once(
    store: LocalFolderStore, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three fsyncs per new object, not four (issue 14: every idle poll stores one): the
    folder is synced once, after both the link and the sidecar's rename, so the put still
    returns only when the object and its retention record are durable."""
    first, digest = write(b"first")
    store.put_file("d/a.enc", first, sha256=digest)  # the folder exists, as for an account's next WARC
    path, digest = write(b"payload")
    synced: list[tuple[str, bool, bool]] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        synced.append((name, (store.root / "d" / "b.enc").exists(),
                       (store.root / "d" / "b.enc.meta.json").exists()))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store.put_file("d/b.enc", path, sha256=digest, retain_until=datetime(2040, 1, 1, tzinfo=UTC))
    folder = str(store.root / "d")
    assert len(synced) == 3, synced
    assert synced[0][0].endswith(".tmp") and ".b.enc." in synced[0][0]  # the bytes, before the link
    assert synced[1][0].endswith(".tmp") and ".meta.json." in synced[1][0]  # the sidecar, before its rename
    assert synced[2] == (folder, True, True)  # then the folder: the link and the rename together
