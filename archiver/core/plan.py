"""What one capture cycle must fetch: the plan the capture hands a connector's harvest.

A first capture, or one an officer forces with `--reconcile`, walks everything. Every other
cycle fetches only what can have changed: new items (newest-first listings stop at what is
already known), the children of items whose change signal moved (a comment count, Graph's
`updated_time`) or that are still recent, and a slice of older items due for reconciliation
(`sweep`), so edits and deletions nobody signals are still found within a known window. The
plan is pure data: the connector reads it, the capture layer builds it from the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from archiver.core.models import Item


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What the catalog knows of one live item, as the capture of its account needs it."""

    item_id: str
    kind: str
    parent_id: str | None
    content_sha256: str
    last_record_id: str
    created_at: datetime | None = None
    signal: str | None = None


@dataclass(frozen=True)
class HarvestPlan:
    """`full`: walk every listing to its end (today's whole capture).

    Otherwise: `known` is what the catalog holds for the account, `recent_since` the creation
    time after which an item's children are listed every cycle, and `sweep` the ids of older
    top-level items whose children (and, where the listing stops early, the items themselves)
    are re-read this cycle.
    """

    full: bool = True
    reason: str = "first capture"
    known: Mapping[str, KnownItem] = field(default_factory=dict)
    recent_since: datetime | None = None
    sweep: frozenset[str] = frozenset()

    def is_new(self, item_id: str) -> bool:
        return item_id not in self.known

    def wants_children(self, item: Item) -> bool:
        """Whether this cycle must list `item`'s comments or replies."""
        if self.full:
            return True
        known = self.known.get(item.item_id)
        if known is None or item.item_id in self.sweep:
            return True
        if item.signal is not None and item.signal != known.signal:
            return True
        created = item.created_at or known.created_at
        return created is None or (self.recent_since is not None and created >= self.recent_since)

    def page_is_old(self, items: Iterable[Item]) -> bool:
        """True when a newest-first listing page holds only known items older than the recent
        window: the pages after it hold nothing new, so an incremental walk stops there."""
        if self.full:
            return False
        seen = False
        for item in items:
            seen = True
            if item.item_id not in self.known:
                return False
            if item.created_at is None or (self.recent_since is not None and item.created_at >= self.recent_since):
                return False
        return seen

    def swept(self, *kinds: str) -> list[KnownItem]:
        """The known items of `kinds` (any kind when none given) this cycle's sweep covers."""
        return [
            self.known[i] for i in sorted(self.sweep)
            if i in self.known and (not kinds or self.known[i].kind in kinds)
        ]


FULL = HarvestPlan()
