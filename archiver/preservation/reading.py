"""Read stored WARCs back by name or pointer: the one door for `warc cat`, `items show`,
rebuild, fixity and exports, so decryption lives in exactly one place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.core.errors import ArchiverError
from archiver.core.models import WarcPointer
from archiver.preservation.outbox import vault_context
from archiver.vault import RangeReader, WrappedKey, decrypt_stream, read_header
from archiver.vault.io import PlaintextReader
from archiver.warc.reader import Record, read_record


@dataclass(frozen=True, slots=True)
class StoredWarc:
    name: str
    store_key: str
    object_size: int | None
    key_id: str | None
    wrapped_key: bytes | None

    @property
    def wrapped(self) -> WrappedKey | None:
        if self.key_id and self.wrapped_key:
            return WrappedKey(self.wrapped_key, self.key_id)
        return None


def stored_warc(app: App, name: str) -> StoredWarc:
    with app.catalog.session() as s:
        row = s.scalar(select(t.WarcFile).where(t.WarcFile.name == name))
    if row is None:
        raise ArchiverError(f"No stored WARC is named '{name}'; see 'archiver warc list'")
    return StoredWarc(row.name, row.store_key, row.object_size, row.key_id, row.wrapped_key)


def iter_plaintext(app: App, warc: StoredWarc, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The WARC's plaintext bytes, each chunk authenticated; the catalog's wrapped key wins
    over the one in the object header (it is the current one after a key rotation)."""
    with app.store.open(warc.store_key) as fh:
        if warc.wrapped is None and not warc.store_key.endswith(".enc"):
            while data := fh.read(chunk):
                yield data
            return
        header = read_header(fh)
        yield from decrypt_stream(fh, app.keys, context=vault_context(warc.name),
                                  wrapped_key=warc.wrapped, header=header)


def iter_warc_bytes(app: App, name: str) -> Iterator[bytes]:
    return iter_plaintext(app, stored_warc(app, name))


def plaintext_reader(app: App, warc: StoredWarc) -> PlaintextReader:
    return PlaintextReader(iter_plaintext(app, warc))


def record_at(app: App, pointer: WarcPointer) -> Record:
    """One record by pointer: only the AEAD segments covering it are fetched and decrypted."""
    warc = stored_warc(app, pointer.filename)
    cache: dict[str, RangeReader] = app.__dict__.setdefault("_range_readers", {})
    reader = cache.get(warc.name)
    if reader is None:
        reader = RangeReader(
            lambda offset, length: app.store.read_range(warc.store_key, offset, length),
            app.keys,
            context=vault_context(warc.name),
            wrapped_key=warc.wrapped,
            ciphertext_size=warc.object_size,
        )
        cache[warc.name] = reader
    return read_record(reader.read(pointer.offset, pointer.length), pointer)
