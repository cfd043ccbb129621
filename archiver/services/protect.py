"""Retention controls for objects a poll has just stored: what one object costs (issue 14).

A poll runs `protect_within` inside the transaction that indexes the new object (through
services/holds.py); `protect` gives it a transaction of its own. Same result as
`sync_object_locks(app, names)` then `sync_legal_holds(app, names=names)`, in a few indexed
statements (the store calls and their record inside the transaction):

- the Object Lock date from the new objects' own records (versions, observations, deletion
  evidence), with the effective schedule cached per process under the adopted district
  file's digest (a re-adoption changes the digest, so the cache cannot serve a stale one);
- legal holds by testing each active hold against just the new objects' items (`covers`,
  the rule of `items_of`), without listing every item every hold covers; no active hold
  and no legal hold on record: no store call at all;
- what was asked of the store is recorded with plain INSERT/UPDATE statements.

The rare cases whose answer reaches beyond the new objects go the general way: deletion
evidence in a new object (the deleted item's older objects may get a later lock date) and,
while holds are active, media captured in a new object (which items it holds records of goes
through the versions' media lists).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, literal, select, union_all, update
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.core.errors import ArchiverError
from archiver.retention.classify import FACT_COLUMNS, facts_row
from archiver.retention.holds import covers
from archiver.retention.retain_until import ItemFacts, earliest_lawful
from archiver.retention.schedules import Effective

_OBJECT_RETENTION = t.Base.metadata.tables[rt.ObjectRetention.__tablename__]  # Core: no ORM bulk path
_EFFECTIVE: dict[tuple[str, str | None], Effective] = {}
_EFFECTIVE_LOCK = threading.Lock()


def effective_schedule(session: Session, state: str | None) -> Effective:
    """load_effective, cached per (state, adopted file digest): one short statement a call."""
    from archiver.retention.active import load_effective

    if not state:
        return load_effective(session, state)  # raises the usual "no state" error
    digest = session.scalar(
        select(rt.AdoptedSchedule.sha256)
        .where(rt.AdoptedSchedule.state == state.upper(), rt.AdoptedSchedule.retired_at.is_(None))
        .order_by(rt.AdoptedSchedule.id.desc()).limit(1))
    key = (state.upper(), digest)
    with _EFFECTIVE_LOCK:
        cached = _EFFECTIVE.get(key)
    if cached is not None:
        return cached
    effective = load_effective(session, state)  # validates; errors are never cached
    with _EFFECTIVE_LOCK:
        _EFFECTIVE[(state.upper(), effective.district_sha256)] = effective
    return effective


@dataclass
class Followup:
    """What `protect_within` leaves for after its transaction commits: a store failure to
    report, and the rare cases the general syncs answer (they open their own transactions)."""

    names: list[str]
    failure: ArchiverError | None = None
    general_locks: bool = False
    general_holds: bool = False

    def finish(self, app: App) -> None:
        from archiver.services.holds import sync_legal_holds, sync_object_locks

        if self.failure is not None:
            raise self.failure
        if self.general_locks:
            sync_object_locks(app, self.names)
        if self.general_holds:
            sync_legal_holds(app, names=self.names)


def protect(app: App, names: Sequence[str]) -> None:
    """`protect_within` in a transaction of its own, then its follow-up."""
    if not names:
        return
    with app.catalog.session() as s:
        followup = protect_within(app, s, names)
    followup.finish(app)


def protect_within(app: App, s: Session, names: Sequence[str]) -> Followup:
    """The new objects' retention controls inside the caller's transaction: the poll runs it
    in the transaction that indexes the object, so an idle account's poll pays for one
    transaction, not three (index, protect, the run's close; issue 14). A store failure is
    returned, not raised, so that what was done is still recorded and the index commits."""
    wanted_names = sorted(set(names))
    followup = Followup(wanted_names)
    if not wanted_names:
        return followup
    now = app.clock.now()
    records = s.execute(union_all(
        select(literal("v"), t.ItemVersion.item_pk, t.ItemVersion.warc_file)
        .where(t.ItemVersion.warc_file.in_(wanted_names)),
        select(literal("o"), t.Observation.item_pk, t.Observation.warc_file)
        .where(t.Observation.warc_file.in_(wanted_names)),
        select(literal("t"), t.Tombstone.item_pk, t.Tombstone.evidence_file)
        .where(t.Tombstone.evidence_file.in_(wanted_names)),
    )).all()
    kinds = {kind for kind, _, _ in records}
    general_locks = "t" in kinds
    by_object: dict[str, set[int]] = defaultdict(set)
    for _kind, pk, name in records:
        by_object[name].add(pk)
    pks = sorted(set().union(*by_object.values())) if by_object else []
    stored = {name: (key, lock, bool(hold), row is not None) for name, key, lock, hold, row in s.execute(
        select(t.WarcFile.name, t.WarcFile.store_key, rt.ObjectRetention.lock_until, rt.ObjectRetention.legal_hold,
               rt.ObjectRetention.warc_name)
        .outerjoin(rt.ObjectRetention, rt.ObjectRetention.warc_name == t.WarcFile.name)
        .where(t.WarcFile.name.in_(wanted_names)))}
    holds = list(s.scalars(select(rt.Hold).where(rt.Hold.released_at.is_(None)).order_by(rt.Hold.id)))
    # media_captures has no index on warc_file: looked at only while a hold is active
    general_holds = bool(holds) and s.execute(
        select(t.MediaCapture.id).where(t.MediaCapture.warc_file.in_(wanted_names)).limit(1)).first() is not None
    items: dict[int, tuple[ItemFacts, str | None, str, str, str, datetime | None]] = {}
    if pks:
        for row in s.execute(
                select(*FACT_COLUMNS, rt.ItemRetention.series, t.Item.platform, t.Item.item_id,
                       t.Account.platform, t.Account.account_id)
                .join(t.Account, t.Account.id == t.Item.account_pk)
                .outerjoin(rt.ItemRetention, rt.ItemRetention.item_pk == t.Item.id)
                .where(t.Item.id.in_(pks))):
            items[row[0]] = (facts_row(row), row[7], row[8], row[9], f"{row[10]}:{row[11]}",
                             row[4] or row[2])
    dates: dict[str, datetime | None] = {}
    if not general_locks:
        effective = effective_schedule(s, app.settings.state)
        for name in wanted_names:
            best: datetime | None = None
            for pk in by_object.get(name, set()):
                if pk not in items:
                    continue
                facts, series_key = items[pk][0], items[pk][1]
                series = effective.get(series_key) if series_key else None
                when = earliest_lawful(series, facts)
                if when is not None and (best is None or when > best):
                    best = when
            dates[name] = best
    held: set[str] = set()
    if holds and not general_holds:
        ids = [h.id for h in holds]
        naming = {hold_id for hold_id, in s.execute(
            select(rt.HoldItem.hold_id).where(rt.HoldItem.hold_id.in_(ids)).group_by(rt.HoldItem.hold_id))}
        keys = sorted({item_id for _, _, _, item_id, _, _ in items.values()})
        named: set[tuple[int, str, str]] = set()
        if naming and keys:
            named = {(h, p, i) for h, p, i in s.execute(
                select(rt.HoldItem.hold_id, rt.HoldItem.platform, rt.HoldItem.item_id)
                .where(rt.HoldItem.hold_id.in_(sorted(naming)), rt.HoldItem.item_id.in_(keys)))}
        covered = {pk for pk, (_, _, platform, item_id, account, when) in items.items()
                   if any(covers(h, account=account, when=when, named=(h.id, platform, item_id) in named,
                                 names_any=h.id in naming) for h in holds)}
        held = {name for name, members in by_object.items() if members & covered}
    # The store calls run inside the caller's transaction and what was asked is written in it
    # too. In a poll that is the index transaction: a crash before it commits leaves the object
    # unindexed in the spool, and the sweep's re-upload and `holds reconcile` ask again (an
    # Object Lock date asked twice is the same date). SQLite holds its write lock meanwhile.
    rows: dict[str, dict[str, object]] = {}
    failure: ArchiverError | None = None
    try:
        for name, when in dates.items():
            if name not in stored or when is None:
                continue
            key, asked, _, _ = stored[name]
            if asked is not None and when <= asked:
                continue
            app.store.extend_retention(key, when)
            rows.setdefault(name, {})["lock_until"] = when
        for name in wanted_names if not general_holds else []:
            if name not in stored:
                continue
            key, _, on_record, _ = stored[name]
            should = name in held
            if not should and not on_record:
                continue  # nothing holds it, nothing was ever asked: a new object carries none
            head = app.store.head(key)
            if head is None or head.legal_hold == should:
                continue
            app.store.set_legal_hold(key, should)
            rows.setdefault(name, {})["legal_hold"] = should
    except ArchiverError as exc:
        failure = exc  # what was done is still recorded
    _record(s, rows, stored, now)
    followup.failure, followup.general_locks, followup.general_holds = failure, general_locks, general_holds
    return followup




def _record(s: Session, rows: dict[str, dict[str, object]],
            stored: dict[str, tuple[str, datetime | None, bool, bool]], now: datetime) -> None:
    """What was asked of the store, one INSERT or UPDATE per object (the outer join said which)."""
    for name, values in rows.items():
        if stored[name][3]:
            s.execute(update(_OBJECT_RETENTION).where(_OBJECT_RETENTION.c.warc_name == name)
                      .values(updated_at=now, **values))
        else:
            s.execute(insert(_OBJECT_RETENTION).values(warc_name=name, updated_at=now,
                                                        **{"legal_hold": False, **values}))
