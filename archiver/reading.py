"""Read stored WARCs back by name or pointer: the one door for `warc cat`, `items show`,
rebuild and exports, so that decryption (the vault) has exactly one place to live."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.errors import ArchiverError
from archiver.models import WarcPointer
from archiver.warc.reader import Record, read_record


def store_key_of(app: App, name: str) -> str:
    with app.catalog.session() as s:
        key = s.scalar(select(t.WarcFile.store_key).where(t.WarcFile.name == name))
    if key is None:
        raise ArchiverError(f"No stored WARC is named '{name}'; see 'archiver warc list'")
    return key


def open_warc(app: App, name: str) -> BinaryIO:
    return app.store.open(store_key_of(app, name))


def iter_warc_bytes(app: App, name: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    with open_warc(app, name) as fh:
        while data := fh.read(chunk):
            yield data


def record_at(app: App, pointer: WarcPointer) -> Record:
    data = app.store.read_range(store_key_of(app, pointer.filename), pointer.offset, pointer.length)
    return read_record(data, pointer)
