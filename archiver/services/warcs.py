"""The stored WARC files: list them, and hand their plaintext bytes to whoever asks."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t
from archiver.catalog.views import WarcInfo
from archiver.core.errors import ArchiverError

__all__ = ["WarcInfo", "list_warcs", "warc_bytes"]


def list_warcs(app: App) -> list[WarcInfo]:
    """Every stored WARC, in capture order."""
    with app.catalog.session() as s:
        rows = s.scalars(select(t.WarcFile).order_by(t.WarcFile.first_date, t.WarcFile.name))
        return [WarcInfo(r.name, r.size, r.records, r.sha256, r.first_date.isoformat(), r.store_key)
                for r in rows]


def warc_bytes(app: App, name: str) -> Iterator[bytes]:
    """The WARC's plaintext (gzip) bytes, authenticated chunk by chunk as they are read.

    Any failure names the WARC and its stored object, so the officer knows which one to
    restore from a replica."""
    reader = app.warc_reader()
    warc = reader.warc(name)  # "no stored WARC is named ..." names it already
    try:
        yield from reader.warc_bytes(name)
    except ArchiverError as exc:
        raise named_error(exc, f"WARC {name} (stored as {warc.store_key})") from exc


def named_error(exc: ArchiverError, what: str) -> ArchiverError:
    """The same kind of error, its message prefixed with what failed."""
    message = f"{what}: {exc.message}"
    try:
        return type(exc)(message, detail=exc.detail)
    except TypeError:  # a subclass with other required arguments
        return ArchiverError(message, detail=exc.detail)
