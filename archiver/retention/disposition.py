"""The disposition plan: what may be destroyed on a date, what is held and why.

An item is a candidate when its series may dispose automatically (verified, with figures),
its retain-until has passed and no hold covers it. Objects (WARCs) are destroyed whole, so the
sets are closed: an object goes only when every item it holds records for goes, and an item
goes only when every object holding its records goes. A candidate kept because it shares an
object with a record kept longer is "held: shared object", and the plan reports that
over-retention per series (docs/retention.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.retention.holds import held_items
from archiver.retention.objects import item_objects, object_items
from archiver.retention.schedules import TRANSFERRING, Effective

ELIGIBLE, HELD, WAITING, RETAINED = "eligible", "held", "waiting", "retained"


@dataclass(frozen=True)
class ItemVerdict:
    pk: int
    platform: str
    item_id: str
    account: str
    kind: str
    series: str | None
    retain_until: datetime | None
    status: str  # eligible | held | waiting | retained
    reasons: tuple[str, ...]
    action: str | None  # destroy | transfer, for eligible items
    created_at: datetime | None
    deleted_at: datetime | None
    objects: tuple[str, ...]


@dataclass(frozen=True)
class ObjectVerdict:
    name: str
    store_key: str
    items: int
    eligible: bool
    action: str | None
    retain_until: datetime | None  # latest of its items'; None = some item has no end date yet
    reason: str


@dataclass(frozen=True)
class OverRetention:
    """How long items are kept past their own date because they share an object."""

    series: str
    items: int  # items of the series with a retain-until date
    kept_longer: int  # of which kept past it by a shared object
    open_ended: int  # of which kept with no end date (sharing with a live record)
    mean_days: float
    max_days: float


@dataclass(frozen=True)
class Plan:
    as_of: datetime
    state: str
    items: list[ItemVerdict]
    objects: list[ObjectVerdict]
    over_retention: list[OverRetention] = field(default_factory=list)

    def eligible_objects(self, action: str = "destroy") -> list[ObjectVerdict]:
        return [o for o in self.objects if o.eligible and o.action == action]

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for i in self.items:
            out[i.status] += 1
        return dict(out)


def make_plan(session: Session, effective: Effective, blockers: dict[str, list[str]], as_of: datetime) -> Plan:
    rows = session.execute(
        select(t.Item, t.Account, rt.ItemRetention)
        .join(t.Account, t.Account.id == t.Item.account_pk)
        .outerjoin(rt.ItemRetention, rt.ItemRetention.item_pk == t.Item.id)
        .order_by(t.Item.id)
    ).all()
    holds = held_items(session)
    objects_of = item_objects(session)
    first: dict[int, tuple[str, tuple[str, ...], str | None]] = {}
    for item, _account, ret in rows:
        first[item.id] = _own_verdict(item, ret, holds.get(item.id, []), effective, blockers, as_of)
    candidates = {pk for pk, (status, _, _) in first.items() if status == ELIGIBLE}
    items_in = object_items(objects_of)
    warcs = {w.name: w for w in session.scalars(select(t.WarcFile))}
    # Closed sets: iterate until no object or item leaves. An object an item names but the
    # catalog no longer lists was destroyed by an earlier run that did not finish its items.
    final = set(candidates)
    while True:
        ok_objects = {n for n, pks in items_in.items() if pks <= final or n not in warcs}
        still = {pk for pk in final if objects_of.get(pk, set()) <= ok_objects}
        if still == final:
            break
        final = still
    actions = {pk: first[pk][2] for pk in final}
    until_of = {item.id: (ret.retain_until if ret else None) for item, _a, ret in rows}
    verdicts = []
    for item, account, ret in rows:
        status, reasons, action = first[item.id]
        names = tuple(sorted(objects_of.get(item.id, set())))
        if status == ELIGIBLE and item.id not in final:
            blocking = [n for n in names if n not in ok_objects]
            status, reasons = HELD, (f"shares object {blocking[0] if blocking else '?'} with records kept longer",)
        verdicts.append(ItemVerdict(item.id, item.platform, item.item_id, account.label, item.kind,
                                    ret.series if ret else None, ret.retain_until if ret else None, status,
                                    reasons, action if item.id in final else None, item.created_at,
                                    item.deleted_at, names))
    object_verdicts = []
    for name, warc in sorted(warcs.items()):
        pks = items_in.get(name, set())
        untils = [until_of.get(pk) for pk in pks]
        latest = None if not pks or any(u is None for u in untils) else max(u for u in untils if u)
        kinds = {actions.get(pk) for pk in pks}
        eligible = name in ok_objects and bool(pks) and pks <= final
        action = ("transfer" if "transfer" in kinds else "destroy") if eligible else None
        if not pks:
            reason = "holds no classified item's records: kept"
        elif eligible:
            reason = f"every one of its {len(pks)} item(s) is eligible"
        else:
            reason = f"{sum(1 for pk in pks if pk not in final)} of its {len(pks)} item(s) are kept"
        object_verdicts.append(ObjectVerdict(name, warc.store_key, len(pks), eligible, action, latest, reason))
    over = _over_retention(verdicts, objects_of, items_in, until_of)
    return Plan(as_of, effective.state, verdicts, object_verdicts, over)


def _own_verdict(item: t.Item, ret: rt.ItemRetention | None, holds: list[rt.Hold], effective: Effective,
                 blockers: dict[str, list[str]], as_of: datetime) -> tuple[str, tuple[str, ...], str | None]:
    if holds:
        return HELD, tuple(
            f"open request {h.request_id} (hold #{h.id})" if h.kind == "request" else f"hold #{h.id}: {h.reason}"
            for h in holds), None
    if ret is None:
        return HELD, ("not classified yet",), None
    if ret.series is None:
        return HELD, (ret.rule or "no series applies",), None
    if ret.series not in blockers:
        return HELD, (f"series {ret.series} is no longer in the schedule in force",), None
    if blockers[ret.series]:
        return HELD, tuple(blockers[ret.series]), None
    if ret.retain_until is None:
        return WAITING, (f"waits for {ret.waits_for}",), None
    if ret.retain_until > as_of:
        return RETAINED, (f"retained until {ret.retain_until:%Y-%m-%d}",), None
    series = effective.get(ret.series)
    action = "transfer" if series is not None and series.disposition in TRANSFERRING else "destroy"
    return ELIGIBLE, (), action


def _over_retention(verdicts: list[ItemVerdict], objects_of: dict[int, set[str]], items_in: dict[str, set[int]],
                    until_of: dict[int, datetime | None]) -> list[OverRetention]:
    object_until: dict[str, datetime | None] = {}
    for name, pks in items_in.items():
        untils = [until_of.get(pk) for pk in pks]
        object_until[name] = None if any(u is None for u in untils) else max(u for u in untils if u)
    per: dict[str, list[float | None]] = defaultdict(list)
    for v in verdicts:
        if v.series is None or v.retain_until is None:
            continue
        kept: datetime | None = v.retain_until
        for name in objects_of.get(v.pk, set()):
            other = object_until.get(name, v.retain_until)
            if other is None:
                kept = None
                break
            kept = max(kept, other) if kept else other
        per[v.series].append(None if kept is None else (kept - v.retain_until).total_seconds() / 86400)
    out = []
    for series, values in sorted(per.items()):
        known = [d for d in values if d is not None]
        longer = [d for d in known if d > 0]
        out.append(OverRetention(series, len(values), len(longer) + sum(1 for d in values if d is None),
                                 sum(1 for d in values if d is None),
                                 round(sum(longer) / len(longer), 1) if longer else 0.0,
                                 round(max(longer), 1) if longer else 0.0))
    return out
