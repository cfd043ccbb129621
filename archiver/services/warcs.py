"""The stored WARC files: list them, and hand their plaintext bytes to whoever asks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from archiver.app import App
from archiver.catalog import tables as t


@dataclass(frozen=True)
class WarcInfo:
    name: str
    size: int
    records: int
    sha256: str
    first_date: str
    store_key: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_warcs(app: App) -> list[WarcInfo]:
    """Every stored WARC, in capture order."""
    with app.catalog.session() as s:
        rows = s.scalars(select(t.WarcFile).order_by(t.WarcFile.first_date, t.WarcFile.name))
        return [WarcInfo(r.name, r.size, r.records, r.sha256, r.first_date.isoformat(), r.store_key)
                for r in rows]


def warc_bytes(app: App, name: str) -> Iterator[bytes]:
    """The WARC's plaintext (gzip) bytes, authenticated chunk by chunk as they are read."""
    return app.warc_reader().warc_bytes(name)
