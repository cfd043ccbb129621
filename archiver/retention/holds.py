"""Which items a hold covers.

A hold names items by scope (an account, a date range on when the item was posted or first
seen; no scope and no ids holds everything) and/or explicitly by natural key (ids given: the
hold covers the scope and the ids). Scope is evaluated when asked, so items captured after the
hold was placed are held too. A search hold covers exactly what its search found when placed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, not_, select, true
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


def _of_account(account: str | None) -> Any:
    """The items of a hold's account (platform:account_id), as SQL on items; true without one."""
    if not account:
        return true()
    platform, _, account_id = account.partition(":")
    return t.Item.account_pk.in_(select(t.Account.id).where(t.Account.platform == platform,
                                                            t.Account.account_id == account_id))


def _in_scope(hold: rt.Hold) -> Any:
    """`items_of`'s scope test as SQL on items: the account, then the posted (else first seen)
    time within since..until, both ends included."""
    conditions: list[Any] = [_of_account(hold.account)]
    when = func.coalesce(t.Item.created_at, t.Item.first_seen_at)
    if hold.since:
        conditions.append(when >= hold.since)
    if hold.until:
        conditions.append(when <= hold.until)
    return and_(*conditions)


def _scope_count(hold: rt.Hold) -> Any:
    """How many items are in a hold's scope: `_in_scope` counted in two index ranges, the items
    with a posted time (created_at, in ix_items_created or ix_items_account_created) and those
    without (their first-seen time then), where coalesce() would read every item's row."""
    account = _of_account(hold.account)
    if not (hold.since or hold.until):
        return select(func.count()).select_from(t.Item).where(account).scalar_subquery()
    counts = []
    for column, known in ((t.Item.created_at, t.Item.created_at.is_not(None)),
                          (t.Item.first_seen_at, t.Item.created_at.is_(None))):
        conditions = [account, known]
        if hold.since:
            conditions.append(column >= hold.since)
        if hold.until:
            conditions.append(column <= hold.until)
        counts.append(select(func.count()).select_from(t.Item).where(*conditions).scalar_subquery())
    return counts[0] + counts[1]


def count_items(session: Session, holds: Sequence[rt.Hold]) -> dict[int, int]:
    """How many items each hold covers now (len(items_of(hold)), 0 once released), in one
    statement for every hold: items_of lists the items of a hold's scope (an account's, or
    the whole archive's) into Python, hold after hold.

    Per hold, the scope's items (when it has a scope, or names no item: then its scope is
    everything) plus the named items outside that scope."""
    active = [h for h in holds if h.released_at is None]
    if not active:
        return {h.id: 0 for h in holds}
    columns = []
    for hold in active:
        named = exists().where(rt.HoldItem.hold_id == hold.id)
        scoped = has_scope(hold) and not hold.query
        scope = _in_scope(hold)
        in_scope = (_scope_count(hold) if scoped else
                    select(func.count()).select_from(t.Item).where(~named).scalar_subquery()
                    if not hold.query else None)
        listed = (select(func.count(t.Item.id.distinct())).select_from(rt.HoldItem)
                  .join(t.Item, and_(t.Item.platform == rt.HoldItem.platform, t.Item.item_id == rt.HoldItem.item_id))
                  .where(rt.HoldItem.hold_id == hold.id))
        if scoped:
            listed = listed.where(not_(scope))
        total: Any = listed.scalar_subquery()
        if in_scope is not None:
            total = total + in_scope
        columns.append(total.label(f"h{hold.id}"))
    row = session.execute(select(*columns)).one()
    counts = {h.id: 0 for h in holds}
    counts.update({hold.id: int(n or 0) for hold, n in zip(active, row, strict=True)})
    return counts


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
