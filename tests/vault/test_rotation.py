"""Rotation rewraps catalog copies of data keys; crypto-shredding removes the last live copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archiver.core.errors import CatalogError, MissingKey, WrongKey
from archiver.vault import (
    KeyFileProvider,
    RangeReader,
    RewrapRecord,
    WrappedKey,
    parse_header,
    rewrap,
    rewrap_all,
)


def make_objects(
    seal, provider, n: int, start: int = 0
) -> dict[str, tuple[dict, bytes, bytes, WrappedKey]]:
    """object_id -> (context, plaintext, ciphertext, catalog's wrapped key)."""
    out = {}
    for i in range(start, start + n):
        ctx = {"account": "district-0042/facebook/1", "object": f"warc/{i}.warc.gz"}
        data = os.urandom(150 + i)
        ct, info = seal(data, provider, context=ctx)
        out[f"obj-{i}"] = (ctx, data, ct, info.wrapped)
    return out


def test_rotation_keeps_everything_readable_and_old_kek_becomes_unneeded(
    fresh_keyfile: KeyFileProvider, seal, unseal
):
    provider = fresh_keyfile
    old_id = provider.key_id
    catalog = make_objects(seal, provider, 5)
    provider.add_key()
    catalog.update(make_objects(seal, provider, 2, start=5))  # written after rotation
    snapshot = {oid: ct for oid, (_, _, ct, _) in catalog.items()}

    def save(record: RewrapRecord, new: WrappedKey) -> None:
        ctx, data, ct, _ = catalog[record.object_id]
        catalog[record.object_id] = (ctx, data, ct, new)

    records = [
        RewrapRecord(oid, wk.wrapped, wk.key_id, ctx) for oid, (ctx, _, _, wk) in catalog.items()
    ]
    report = rewrap_all(records, provider, provider, save)
    assert (report.rewrapped, report.already_current, report.failed) == (5, 2, 0)
    assert all(wk.key_id == provider.key_id for _, _, _, wk in catalog.values())

    # run again: idempotent
    records = [
        RewrapRecord(oid, wk.wrapped, wk.key_id, ctx) for oid, (ctx, _, _, wk) in catalog.items()
    ]
    again = rewrap_all(records, provider, provider, save)
    assert (again.rewrapped, again.already_current, again.failed) == (0, 7, 0)

    provider.remove_key(old_id)
    reopened = KeyFileProvider(provider.path, create=False)
    for oid, (ctx, data, ct, wk) in catalog.items():
        assert ct == snapshot[oid]  # ciphertext untouched
        assert unseal(ct, reopened, context=ctx, wrapped_key=wk) == data
        reader = RangeReader(
            lambda o, n, ct=ct: ct[o : o + n], reopened, context=ctx, wrapped_key=wk
        )
        assert reader.read(10, 20) == data[10:30]
    # the stale header copies of the first five now need a destroyed key: the catalog wins
    ctx, _, ct, _ = catalog["obj-0"]
    assert parse_header(ct).key_id == old_id
    with pytest.raises(MissingKey):
        unseal(ct, reopened, context=ctx)


def test_rewrap_batch_counts_failures_and_keeps_going(fresh_keyfile, seal):
    provider = fresh_keyfile
    catalog = make_objects(seal, provider, 4)
    provider.add_key()
    records = [
        RewrapRecord(oid, wk.wrapped, wk.key_id, ctx) for oid, (ctx, _, _, wk) in catalog.items()
    ]
    records[1] = RewrapRecord(
        "obj-1", records[1].wrapped_key, records[1].key_id, {"object": "wrong"}
    )
    records.append(RewrapRecord("obj-x", b"\x01" * 61, "kf-19990101-deadbeef", {}))
    saved: list[str] = []

    def save(record: RewrapRecord, new: WrappedKey) -> None:
        if record.object_id == "obj-3":
            raise CatalogError("Catalog is read-only; retry after maintenance.")
        saved.append(record.object_id)

    report = rewrap_all(records, provider, provider, save)
    assert (report.rewrapped, report.already_current, report.failed) == (2, 0, 3)
    assert saved == ["obj-0", "obj-2"]
    assert {f.object_id for f in report.failures} == {"obj-1", "obj-3", "obj-x"}
    assert all(f.message and "\n" not in f.message for f in report.failures)


def test_rewrap_between_key_files(tmp_path: Path, seal, unseal):
    old = KeyFileProvider(tmp_path / "old.json")
    new = KeyFileProvider(tmp_path / "new.json")
    ctx = {"object": "o"}
    ct, info = seal(b"payload" * 50, old, context=ctx)
    moved = rewrap(info.wrapped_key, info.key_id, ctx, old, new)
    assert moved.key_id == new.key_id
    (tmp_path / "old.json").unlink()
    assert unseal(ct, new, context=ctx, wrapped_key=moved) == b"payload" * 50
    with pytest.raises(WrongKey):
        rewrap(moved.wrapped, moved.key_id, {"object": "other"}, new, old)


def test_crypto_shred_detached_key(fresh_keyfile, seal, unseal):
    """With the wrapped key only in the catalog, deleting that row destroys the object."""
    provider = fresh_keyfile
    ctx = {"object": "warc/student-photo.warc.gz"}
    data = b"FERPA-protected content " * 40
    ct, info = seal(data, provider, context=ctx, embed_wrapped_key=False)
    header = parse_header(ct)
    assert header.wrapped_key == b"" and header.key_id == provider.key_id
    assert info.wrapped_key not in ct
    assert unseal(ct, provider, context=ctx, wrapped_key=info.wrapped) == data

    catalog_row: WrappedKey | None = info.wrapped
    catalog_row = None  # the disposition deletes the row (and its backups)
    with pytest.raises(MissingKey, match="crypto-shredded"):
        unseal(ct, provider, context=ctx, wrapped_key=catalog_row)
    # another object's key, even with the same context and KEK, does not open it
    _, other = seal(b"other", provider, context=ctx)
    with pytest.raises(WrongKey):
        unseal(ct, provider, context=ctx, wrapped_key=other.wrapped)


def test_crypto_shred_after_rotation(fresh_keyfile, seal, unseal):
    """Embedded header copies die with the old KEK, so the catalog copy is the last one."""
    provider = fresh_keyfile
    ctx = {"object": "warc/old.warc.gz"}
    ct, info = seal(b"x" * 500, provider, context=ctx)
    old_id = provider.key_id
    provider.add_key()
    live = rewrap(info.wrapped_key, info.key_id, ctx, provider, provider)
    provider.remove_key(old_id)
    assert unseal(ct, provider, context=ctx, wrapped_key=live) == b"x" * 500
    del live  # shred: delete the catalog's wrapped key
    with pytest.raises(MissingKey):
        unseal(ct, provider, context=ctx)  # the header copy needs the destroyed KEK


def test_crypto_shred_by_destroying_the_kek(fresh_keyfile, seal, unseal):
    """A disposition cohort under one KEK: destroy the KEK and every object goes with it."""
    provider = fresh_keyfile
    cohort_kek = provider.key_id
    cohort = make_objects(seal, provider, 3)
    provider.add_key()
    survivor_ctx = {"object": "keep"}
    survivor_ct, _ = seal(b"keep me", provider, context=survivor_ctx)
    provider.remove_key(cohort_kek)
    for ctx, _, ct, wk in cohort.values():
        with pytest.raises(MissingKey):
            unseal(ct, provider, context=ctx, wrapped_key=wk)
    assert unseal(survivor_ct, provider, context=survivor_ctx) == b"keep me"
