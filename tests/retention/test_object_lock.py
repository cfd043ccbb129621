"""Object Lock follows the law: set after upload to the earliest lawful date, extended only
when a deletion arrives, never shortened."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.core.clock import ManualClock
from tests.harness import Harness


def _locks(h: Harness) -> dict[str, object]:
    with h.app.catalog.session() as s:
        rows = s.execute(select(t.WarcFile.name, t.WarcFile.store_key, t.WarcFile.stored_at)
                         .order_by(t.WarcFile.id)).all()
    return {name: h.app.store.head(key).retain_until for name, key, _ in rows}  # type: ignore[union-attr]


def test_object_lock_is_the_earliest_lawful_date_and_only_moves_later(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    h.app.clock = clock  # the deletion is seen a day after the first capture, however fast the machine
    try:
        h.poll()
        (first, lock1), = _locks(h).items()
        with h.app.catalog.session() as s:
            last_seen = max(s.scalars(select(t.Item.last_seen_at)))
            asked = s.get(rt.ObjectRetention, first)
        # WA GS2010-001: 2 years after removal; a live post cannot be removed before it was last seen
        assert lock1 is not None and lock1 >= last_seen.replace(year=last_seen.year + 2, microsecond=0)
        assert asked is not None and asked.lock_until == lock1
        victim = next(i for i, row in h.items().items() if row.kind == "post")
        h.sandbox.delete(victim)
        clock.advance(86400)
        h.poll()
        locks = _locks(h)
        assert locks[first] is not None and locks[first] > lock1  # the deletion moved it later
        with h.app.catalog.session() as s:
            deleted = s.scalar(select(t.Item.deleted_at).where(t.Item.item_id == victim))
        assert locks[first] >= deleted.replace(year=deleted.year + 2, microsecond=0)
    finally:
        h.close()
