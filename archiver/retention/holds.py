"""Which items a hold covers.

A hold names items by scope (an account, a date range on when the item was posted or first
seen; no scope and no ids holds everything) and/or explicitly by natural key (ids given: the
hold covers the scope and the ids). Scope is evaluated when asked, so items captured after the
hold was placed are held too. A search hold covers exactly what its search found when placed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t


def active_holds(session: Session) -> list[rt.Hold]:
    return list(session.scalars(select(rt.Hold).where(rt.Hold.released_at.is_(None)).order_by(rt.Hold.id)))


def has_scope(hold: rt.Hold) -> bool:
    return bool(hold.account or hold.since or hold.until)


def items_of(session: Session, hold: rt.Hold) -> set[int]:
    """Item row ids this hold covers now."""
    found: set[int] = set()
    explicit = session.execute(select(rt.HoldItem.platform, rt.HoldItem.item_id)
                               .where(rt.HoldItem.hold_id == hold.id)).all()
    if explicit:
        by_platform: dict[str, list[str]] = defaultdict(list)
        for platform, item_id in explicit:
            by_platform[platform].append(item_id)
        for platform, ids in by_platform.items():
            found.update(session.scalars(select(t.Item.id).where(t.Item.platform == platform,
                                                                 t.Item.item_id.in_(ids))))
    if hold.query:  # a search hold: what the search found (within its scope) when placed
        return found
    if has_scope(hold) or not explicit:
        query = select(t.Item.id, t.Item.created_at, t.Item.first_seen_at)
        if hold.account:
            platform, _, account_id = hold.account.partition(":")
            query = query.join(t.Account, t.Account.id == t.Item.account_pk).where(
                t.Account.platform == platform, t.Account.account_id == account_id)
        for pk, created, first_seen in session.execute(query):
            when = created or first_seen
            if hold.since and when < hold.since:
                continue
            if hold.until and when > hold.until:
                continue
            found.add(pk)
    return found


def held_items(session: Session) -> dict[int, list[rt.Hold]]:
    """item row id -> the active holds covering it."""
    out: dict[int, list[rt.Hold]] = defaultdict(list)
    for hold in active_holds(session):
        for pk in items_of(session, hold):
            out[pk].append(hold)
    return dict(out)



def covers(hold: rt.Hold, *, account: str, when: datetime | None, named: bool, names_any: bool) -> bool:
    """Whether `hold` covers one item, by the same rule as `items_of` without listing every
    item it covers: `account` is the item's platform:account_id, `when` when it was posted (or
    first seen), `named` whether the hold names this item, `names_any` whether it names any."""
    if named:
        return True
    if hold.query or (names_any and not has_scope(hold)):
        return False
    if hold.account and hold.account != account:
        return False
    return when is None or not ((hold.since and when < hold.since) or (hold.until and when > hold.until))
