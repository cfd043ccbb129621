"""Use cases for holds: litigation holds and the holds open public records requests place.

A hold stops disposition of the items it covers and puts every object holding their records
under legal hold in the store (S3 Object Lock legal hold; the local store's equivalent). The
catalog is the record of what should be held; `reconcile` repairs drift in the store.

The requests feature calls `add_hold(app, kind="request", request_id=..., ...)` when a request
opens and `release_hold` when it closes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.catalog.search import SearchFilters, matching_items
from archiver.core.errors import ArchiverError, ConfigError, HoldConflict
from archiver.retention.holds import active_holds, count_items, items_of
from archiver.retention.objects import objects_holding

if TYPE_CHECKING:
    from archiver.services.protect import Followup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HoldSummary:
    id: int
    kind: str
    reason: str
    request_id: str | None
    account: str | None
    since: datetime | None
    until: datetime | None
    query: str | None
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None
    items: int
    objects: int | None  # None: not counted (the console's list of holds shows items only)

    @property
    def active(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True)
class ReconcileReport:
    objects: int
    placed: list[str] = field(default_factory=list)  # legal hold was missing in the store
    released: list[str] = field(default_factory=list)  # store held what nothing holds any more
    missing: list[str] = field(default_factory=list)  # catalogued objects the store lacks
    repaired: bool = False

    @property
    def drift(self) -> int:
        return len(self.placed) + len(self.released) + len(self.missing)


def _summary(session: Session, hold: rt.Hold, pks: set[int] | None = None,
             objects: set[str] | None = None, items: int | None = None) -> HoldSummary:
    if items is not None:  # counted, the objects not wanted
        return HoldSummary(hold.id, hold.kind, hold.reason, hold.request_id, hold.account, hold.since,
                           hold.until, hold.query, hold.created_by, hold.created_at, hold.released_at,
                           hold.released_by, hold.release_reason, items, None)
    if pks is None:
        pks = items_of(session, hold) if hold.released_at is None else set()
    if objects is None:
        objects = objects_holding(session, pks)
    return HoldSummary(hold.id, hold.kind, hold.reason, hold.request_id, hold.account, hold.since, hold.until,
                       hold.query, hold.created_by, hold.created_at, hold.released_at, hold.released_by,
                       hold.release_reason, len(pks), len(objects))


def _account_label(session: Session, selector: str) -> str:
    rows = list(session.scalars(select(t.Account)))
    chosen = [r for r in rows if selector in (str(r.id), r.account_id, r.label, r.name)]
    if len(chosen) != 1:
        raise ConfigError(f"{'No' if not chosen else 'More than one'} registered account matches '{selector}'; "
                          "give platform:account_id (see 'archiver accounts list')")
    return chosen[0].label


def add_hold(app: App, *, reason: str, actor: str, kind: Literal["litigation", "request"] = "litigation",
             request_id: str | None = None, item_ids: Sequence[str] | None = None, account: str | None = None,
             since: datetime | None = None, until: datetime | None = None, query: str | None = None) -> HoldSummary:
    """Place a hold; every object holding records of a covered item goes under legal hold."""
    if not reason.strip():
        raise ConfigError("A hold needs --reason (the matter, case or request it is for)")
    if kind not in ("litigation", "request"):
        raise ConfigError(f"Unknown hold kind {kind!r}; use litigation or request")
    if kind == "request" and not request_id:
        raise ConfigError("A request hold needs the request id")
    if since and until and since > until:
        raise ConfigError("--since is after --until; swap them")
    now = app.clock.now()
    with app.catalog.session() as s:
        label = _account_label(s, account) if account else None
        found: list[tuple[str, str]] = []
        if query:
            # A hold by query holds what the search finds now (within --account/--since/--until),
            # item by item; the query and its filters are kept on the hold to show how.
            found = matching_items(s, query, SearchFilters(account=label, since=since.date() if since else None,
                                                           until=until.date() if until else None))
            described = " ".join([query] + [f"{k}={v}" for k, v in (("account", label), ("since", since),
                                                                    ("until", until)) if v])
            label, since, until = None, None, None  # the scope is the found items, not the account
        hold = rt.Hold(kind=kind, reason=reason.strip(), request_id=request_id, account=label, since=since,
                       until=until, query=described if query else None, created_by=actor, created_at=now)
        s.add(hold)
        s.flush()
        keys = list(dict.fromkeys(found + _natural_keys(s, item_ids or [])))
        if keys:
            s.execute(insert(rt.HoldItem), [{"hold_id": hold.id, "platform": platform, "item_id": item_id}
                                            for platform, item_id in keys])
        s.flush()
        pks = items_of(s, hold)
        held = objects_holding(s, pks)
        summary = _summary(s, hold, pks, held)
        audit.append(s, actor=actor, action="hold.add", subject=f"hold:{hold.id}", at=now, details={
            "kind": kind, "reason": hold.reason, "request_id": request_id, "account": label,
            "since": since, "until": until, "query": hold.query, "item_ids": list(item_ids or []),
            "items": summary.items,
            "objects": summary.objects,
        })
    # Only this hold's objects can have become held, and every one of them is now wanted:
    # a HEAD per object of the hold, not per object of the archive.
    sync_legal_holds(app, names=held, wanted=held)
    return summary


def _natural_keys(session: Session, raws: Sequence[str]) -> list[tuple[str, str]]:
    """Each of 'platform:item_id' or a bare item id (every platform that has it), in order.

    A handful of statements for any number of ids, each through an index: the unique
    (platform, item_id) one or ix_items_item_id (never a scan of items; a `requests add` of
    100 items read a 1,000,000-item catalog 100 times)."""
    if not raws:
        return []
    platforms = set(session.scalars(select(t.Account.platform).distinct()))
    bare: list[str] = []
    for raw in raws:
        platform, sep, _ = raw.partition(":")
        if not (sep and platform in platforms):
            bare.append(raw)
    by_id: dict[str, list[tuple[str, str]]] = {}
    unique = sorted(set(bare))
    for start in range(0, len(unique), 500):
        for platform, item_id in session.execute(
                select(t.Item.platform, t.Item.item_id).where(t.Item.item_id.in_(unique[start:start + 500]))
                .order_by(t.Item.platform)):
            by_id.setdefault(item_id, []).append((platform, item_id))
    out: list[tuple[str, str]] = []
    for raw in raws:
        platform, sep, item_id = raw.partition(":")
        if sep and platform in platforms:
            out.append((platform, item_id))
        elif raw in by_id:
            out += by_id[raw]
        else:
            raise ConfigError(f"No captured item {raw!r}; give an id from 'archiver items list' (platform:id)")
    return out


def release_hold(app: App, hold_id: int, *, reason: str, actor: str) -> HoldSummary:
    if not reason.strip():
        raise ConfigError("A release needs --reason (why the matter no longer requires the hold)")
    now = app.clock.now()
    with app.catalog.session() as s:
        hold = s.get(rt.Hold, hold_id)
        if hold is None:
            raise HoldConflict(f"No hold #{hold_id}; see 'archiver holds list'")
        if hold.released_at is not None:
            raise HoldConflict(f"Hold #{hold_id} was already released on {hold.released_at:%Y-%m-%d} by "
                               f"{hold.released_by}")
        pks = items_of(s, hold)
        held = objects_holding(s, pks)  # only these objects can stop being held
        items = len(pks)
        hold.released_at, hold.released_by, hold.release_reason = now, actor, reason.strip()
        audit.append(s, actor=actor, action="hold.release", subject=f"hold:{hold.id}", at=now,
                     details={"reason": reason.strip(), "kind": hold.kind, "request_id": hold.request_id,
                              "items": items})
        s.flush()
        summary = _summary(s, hold)
    sync_legal_holds(app, names=held)
    return summary


def list_holds(app: App, *, include_released: bool = False, objects: bool = True) -> list[HoldSummary]:
    """Holds with how many items (and, unless `objects` is False, stored objects) each covers.
    Without objects (the console's /holds) the items are counted in the database, every hold
    in one statement, instead of listed hold by hold."""
    with app.catalog.session() as s:
        query = select(rt.Hold).order_by(rt.Hold.id)
        if not include_released:
            query = query.where(rt.Hold.released_at.is_(None))
        rows = list(s.scalars(query))
        if objects:
            return [_summary(s, h) for h in rows]
        counts = count_items(s, rows)
        return [_summary(s, h, items=counts[h.id]) for h in rows]


def wanted_legal_holds(session: Session) -> set[str]:
    """Names of the objects that must be under legal hold now."""
    pks: set[int] = set()
    for hold in active_holds(session):
        pks |= items_of(session, hold)
    return objects_holding(session, pks)


def sync_legal_holds(app: App, *, repair: bool = True, names: Iterable[str] | None = None,
                     wanted: set[str] | None = None) -> ReconcileReport:
    """Make the store's legal holds match the catalog's holds (all objects, or `names`).
    `wanted`: the objects known to need a legal hold, when the caller knows (a hold just
    placed wants all of its objects), instead of working it out from every active hold."""
    now = app.clock.now()
    with app.catalog.session() as s:
        if wanted is None:
            wanted = wanted_legal_holds(s)
        query = select(t.WarcFile.name, t.WarcFile.store_key)
        if names is not None:
            query = query.where(t.WarcFile.name.in_(sorted(set(names))))
        objects = s.execute(query).all()
    placed: list[str] = []
    released: list[str] = []
    missing: list[str] = []
    for name, key in objects:
        head = app.store.head(key)
        if head is None:
            missing.append(name)
            continue
        should = name in wanted
        if head.legal_hold == should:
            continue
        (placed if should else released).append(name)
        if repair:
            app.store.set_legal_hold(key, should)
    if repair and (placed or released):
        with app.catalog.session() as s:
            for name in placed + released:
                row = s.get(rt.ObjectRetention, name) or rt.ObjectRetention(warc_name=name, updated_at=now)
                row.legal_hold, row.updated_at = name in placed, now
                s.merge(row)
    return ReconcileReport(len(objects), placed, released, missing, repair)


def reconcile(app: App, *, repair: bool, actor: str) -> ReconcileReport:
    """`holds reconcile`: find (and repair) drift between catalog holds and the store."""
    report = sync_legal_holds(app, repair=repair)
    if repair:
        sync_object_locks(app)
    if report.drift:
        with app.catalog.session() as s:
            audit.append(s, actor=actor, action="hold.reconcile", subject="store", at=app.clock.now(),
                         details={"placed": report.placed, "released": report.released,
                                  "missing": report.missing, "repaired": repair})
    return report


def sync_object_locks(app: App, names: Iterable[str] | None = None) -> list[str]:
    """Extend each object's Object Lock to the earliest date the law could allow its
    destruction (never shortened; the catalog remembers what was asked, so unchanged dates
    cost no store call). `names`: these objects, and the older objects of items whose
    deletion they record."""
    from archiver.retention.active import load_effective
    from archiver.retention.locks import lock_dates
    from archiver.retention.objects import item_objects

    now = app.clock.now()
    extended = []
    with app.catalog.session() as s:
        if names is None:
            wanted = set(s.scalars(select(t.WarcFile.name)))
        else:
            first = set(names)
            # Older objects move only when a trigger arrives (a deletion recorded in a new object),
            # not on every observation, so a poll costs store calls for new objects only.
            pks = set(s.scalars(select(t.Tombstone.item_pk).where(t.Tombstone.evidence_file.in_(sorted(first)))))
            wanted = first.union(*item_objects(s, pks).values()) if pks else first
        dates = lock_dates(s, load_effective(s, app.settings.state), wanted)
        keys = dict(s.execute(select(t.WarcFile.name, t.WarcFile.store_key)
                              .where(t.WarcFile.name.in_(sorted(wanted)))).all())
        known = {r.warc_name: r.lock_until for r in s.scalars(
            select(rt.ObjectRetention).where(rt.ObjectRetention.warc_name.in_(sorted(wanted))))}
    for name, when in sorted(dates.items()):
        asked = known.get(name)
        if when is None or name not in keys or (asked is not None and when <= asked):
            continue
        app.store.extend_retention(keys[name], when)
        extended.append(name)
        with app.catalog.session() as s:
            row = s.get(rt.ObjectRetention, name) or rt.ObjectRetention(warc_name=name, legal_hold=False,
                                                                          updated_at=now)
            row.lock_until, row.updated_at = when, now
            s.merge(row)
    return extended


def protect_new_objects(app: App, names: Sequence[str]) -> None:
    """After upload: the Object Lock date the law allows and any legal hold a hold requires.
    Never fails a capture: a failure is logged and `holds reconcile` repairs the drift."""
    from archiver.services.protect import protect

    try:
        protect(app, names)  # what one object costs (issue 14); same result as the two syncs
    except ArchiverError as exc:
        _log_unprotected(names, exc)


def protect_in_transaction(app: App, session: Session, names: Sequence[str]) -> Followup:
    """`protect_new_objects` inside the caller's transaction (the poll's index transaction);
    the returned follow-up goes to `finish_protection` once that transaction has committed."""
    from archiver.services.protect import protect_within

    return protect_within(app, session, names)


def finish_protection(app: App, followups: Iterable[Followup]) -> None:
    """The follow-ups of `protect_in_transaction`: never fails a capture either."""
    for followup in followups:
        try:
            followup.finish(app)
        except ArchiverError as exc:
            _log_unprotected(followup.names, exc)


def _log_unprotected(names: Sequence[str], exc: ArchiverError) -> None:
    log.error("could not set retention controls on %s: %s (run 'archiver holds reconcile')",
              ", ".join(names), exc.message)
