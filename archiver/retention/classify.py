"""Classification: one series per item, with the rule that chose it, and its retain-until.

Rules are tried in the schedule's order (district series first): the first series whose
`applies_to` has the item's kind and whose non-default conditions all hold wins; then the
first `default: true` series for the kind. An item no rule selects gets the state's most
conservative series and is flagged. Items are re-classified when the account's role or the
schedule in force changes (the `fingerprint` records both), and their retain-until only ever
moves later.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.core.errors import ArchiverError
from archiver.retention.retain_until import ItemFacts, compute, never_earlier
from archiver.retention.schedules import Effective, Series

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Assignment:
    series: Series | None
    rule: str
    flagged: bool


def choose(effective: Effective, facts: ItemFacts) -> Assignment:
    for s in effective.series:
        sel = s.select_when
        conditions = [c for c in (sel.account_role_in, sel.content_class, sel.item_kind_in) if c]
        if not conditions or not s.applies(facts.kind):
            continue
        if sel.account_role_in and facts.account_role not in sel.account_role_in:
            continue
        if sel.content_class and facts.content_class != sel.content_class:
            continue
        if sel.item_kind_in and facts.kind not in sel.item_kind_in:
            continue
        parts = []
        if sel.account_role_in:
            parts.append(f"account role {facts.account_role!r} in {sel.account_role_in}")
        if sel.content_class:
            parts.append(f"content class {sel.content_class!r}")
        if sel.item_kind_in:
            parts.append(f"kind in {sel.item_kind_in}")
        return Assignment(s, f"{s.key}: {' and '.join(parts)}, applies to {facts.kind}", False)
    for s in effective.series:
        if s.select_when.default and s.applies(facts.kind):
            return Assignment(s, f"{s.key}: default series for {facts.kind}", False)
    fallback = effective.most_conservative(facts.kind)
    if fallback is None:
        return Assignment(None, f"no series in the {effective.state} schedule (adopt a district schedule)", True)
    return Assignment(fallback, f"{fallback.key}: no rule selects {facts.kind}; most conservative series "
                                f"of the {effective.state} schedule", True)


def fingerprint(effective: Effective, role: str) -> str:
    return hashlib.sha256(f"{effective.fingerprint()}|{role}".encode()).hexdigest()[:32]


def facts_of(item: t.Item, account: t.Account) -> ItemFacts:
    return ItemFacts(
        kind=item.kind, account_role=(account.role or "").strip().lower(),
        first_seen_at=item.first_seen_at, last_seen_at=item.last_seen_at, created_at=item.created_at,
        deleted_at=item.deleted_at,
    )


# The columns facts_of reads, selected as plain rows (no ORM objects: classification runs
# for every item a capture touches, issue 13/14). `facts_row` builds the same facts.
FACT_COLUMNS = (t.Item.id, t.Item.kind, t.Item.first_seen_at, t.Item.last_seen_at, t.Item.created_at,
                t.Item.deleted_at, t.Account.role)


_RETENTION = t.Base.metadata.tables[rt.ItemRetention.__tablename__]


def facts_row(row: Any) -> ItemFacts:
    """facts_of for a row of FACT_COLUMNS."""
    return ItemFacts(
        kind=row[1], account_role=(row[6] or "").strip().lower(),
        first_seen_at=row[2], last_seen_at=row[3], created_at=row[4], deleted_at=row[5],
    )


def classify_items(session: Session, effective: Effective, now: datetime,
                   item_pks: Iterable[int] | None = None) -> int:
    """(Re)classify the given items (all when None); returns how many rows changed."""
    query = select(*FACT_COLUMNS).join(t.Account, t.Account.id == t.Item.account_pk)
    pks = None if item_pks is None else list(item_pks)
    if pks is not None:
        if not pks:
            return 0
        query = query.where(t.Item.id.in_(pks))
    existing = {r.item_pk: r for r in session.scalars(
        select(rt.ItemRetention) if pks is None else select(rt.ItemRetention).where(rt.ItemRetention.item_pk.in_(pks)))}
    changed = 0
    prints: dict[str, str] = {}  # role -> fingerprint: the schedule digest is the same for every item
    fresh: list[dict[str, Any]] = []  # new rows: one executemany, not an ORM object each
    for item in session.execute(query).all():
        facts = facts_row(item)
        chosen = choose(effective, facts)
        row = existing.get(item[0])
        clock, floor = never_earlier(row.retain_floor if row else None, compute(chosen.series, facts))
        values = dict(
            state=effective.state, series=chosen.series.key if chosen.series else None,
            schedule=chosen.series.schedule if chosen.series else None,
            series_source=effective.source_of.get(chosen.series.key, "state") if chosen.series else "state",
            rule=chosen.rule, flagged=chosen.flagged, trigger_at=clock.trigger_at,
            retain_until=clock.retain_until, retain_floor=floor, waits_for=clock.waits_for,
            fingerprint=prints.get(facts.account_role) or prints.setdefault(
                facts.account_role, fingerprint(effective, facts.account_role)),
        )
        if row is None:
            fresh.append(dict(item_pk=item[0], classified_at=now, **values))
            changed += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.classified_at = now
            changed += 1
    session.flush()
    if fresh:
        session.execute(insert(_RETENTION), fresh)
    return changed


def index_hook(state: str | None, now: Callable[[], datetime]) -> Callable[[Session, int, set[str]], None]:
    """What the indexer calls after a WARC: classify the items it touched."""
    from archiver.retention.active import load_effective

    def hook(session: Session, account_pk: int, item_ids: set[str]) -> None:
        if not item_ids:
            return
        try:
            effective = load_effective(session, state)
        except ArchiverError as exc:  # never lose a capture over a schedule: plan reclassifies
            log.warning("items left unclassified (they hold): %s", exc.message)
            return
        pks = session.scalars(select(t.Item.id).where(t.Item.account_pk == account_pk,
                                                       t.Item.item_id.in_(sorted(item_ids)))).all()
        classify_items(session, effective, now(), pks)

    return hook
