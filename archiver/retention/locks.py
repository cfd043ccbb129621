"""The Object Lock date an object may carry: the earliest date the law could allow its
destruction, i.e. the latest of the earliest-lawful dates of the items it holds records for.

It is set when the object is stored and only ever extended (the store refuses to shorten), as
triggers arrive: a live post's lower bound moves with each observation that it is still up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.retention.classify import FACT_COLUMNS, facts_row
from archiver.retention.retain_until import earliest_lawful
from archiver.retention.schedules import Effective


def lock_dates(session: Session, effective: Effective, names: Iterable[str]) -> dict[str, datetime | None]:
    """Only the given objects' own records are read (not every object of their items), so
    the cost after a poll grows with what the poll stored, not with the archive."""
    wanted = sorted(set(names))
    by_object: dict[str, set[int]] = defaultdict(set)
    for column_pk, column_file in ((t.ItemVersion.item_pk, t.ItemVersion.warc_file),
                                   (t.Observation.item_pk, t.Observation.warc_file),
                                   (t.Tombstone.item_pk, t.Tombstone.evidence_file)):
        for pk, name in session.execute(select(column_pk, column_file).where(column_file.in_(wanted))):
            by_object[name].add(pk)
    pks = set().union(*by_object.values()) if by_object else set()
    series_of = dict(session.execute(  # plain rows, not ORM objects (issue 14)
        select(rt.ItemRetention.item_pk, rt.ItemRetention.series).where(rt.ItemRetention.item_pk.in_(pks))).all())
    facts = {row[0]: facts_row(row) for row in session.execute(
        select(*FACT_COLUMNS).join(t.Account, t.Account.id == t.Item.account_pk).where(t.Item.id.in_(pks)))}
    out: dict[str, datetime | None] = {}
    for name in wanted:
        best: datetime | None = None
        for pk in by_object.get(name, set()):
            key = series_of.get(pk)
            series = effective.get(key) if key else None
            when = earliest_lawful(series, facts[pk]) if pk in facts else None
            if when is not None and (best is None or when > best):
                best = when
        out[name] = best
    return out
