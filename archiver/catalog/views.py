"""The catalog's read views as plain dataclasses, without SQLAlchemy: the full read path
(archiver.catalog.queries) and the driver-only one (archiver.catalog.lite) give the CLI the
same objects, and a page cursor means the same on both."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from archiver.core.errors import ArchiverError


@dataclass(frozen=True)
class ItemSummary:
    id: str
    platform: str
    account: str
    kind: str
    parent_id: str | None
    created_at: str | None
    first_seen_at: str
    deleted: bool
    versions: int
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VersionView:
    version: int
    observed_at: str
    content_sha256: str
    text: str
    author: str
    url: str
    warc: dict[str, Any]


@dataclass(frozen=True)
class ItemDetail:
    summary: ItemSummary
    versions: list[VersionView]
    tombstone: dict[str, Any] | None
    observations: int
    media: list[dict[str, Any]] = field(default_factory=list)
    # The thread around the item: what it answers, and the answers to it (oldest first).
    parent: ItemSummary | None = None
    replies: list[ItemSummary] = field(default_factory=list)
    # WARC name -> its last fixity check, for each WARC this item's evidence is in whose last
    # check failed: that evidence must be restored from a replica before it is relied on.
    failed_fixity: dict[str, dict[str, Any]] = field(default_factory=dict)
    # series, rule, flagged, retain_until, waits_for (see archiver/retention); None: unclassified
    retention: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary.as_dict(),
            "observations": self.observations,
            "version_history": [asdict(v) for v in self.versions],
            "tombstone": self.tombstone,
            "media": self.media,
            "parent": self.parent.as_dict() if self.parent else None,
            "replies": [r.as_dict() for r in self.replies],
            "failed_fixity": self.failed_fixity,
            "retention": self.retention,
        }


@dataclass(frozen=True)
class WarcInfo:
    """One stored WARC as `warc list` shows it (archiver.services.warcs and catalog.lite)."""

    name: str
    size: int
    records: int
    sha256: str
    first_date: str
    store_key: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ItemPage:
    """One page of a listing, and the cursor of the next page (None: nothing more)."""

    items: list[ItemSummary]
    next_cursor: str | None = None

    @property
    def more(self) -> bool:
        return self.next_cursor is not None


class BadCursor(ArchiverError):
    """An --after value that is not one this archiver printed."""


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last item's creation time (None sorts last) and row id.

    Printed as an opaque token; the next page starts strictly after it (keyset paging: the
    database seeks to it through ix_items_created or ix_items_account_created, so page 1,000
    costs what page 1 costs, where OFFSET would read and drop every row before it)."""

    created_at: datetime | None
    pk: int

    def token(self) -> str:
        raw = json.dumps([self.created_at.isoformat() if self.created_at else None, self.pk])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def parse(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            when, pk = json.loads(raw)
            created = datetime.fromisoformat(when) if when is not None else None
            if not isinstance(pk, int) or (created is not None and created.tzinfo is None):
                raise ValueError(pk)
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
            raise BadCursor(f"--after {token[:40]!r} is not a page cursor; copy the one "
                            "'items list' printed after its last page") from None
        return cls(created, pk)
