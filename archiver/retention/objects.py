"""Which stored objects (WARCs) hold records of which items.

WARCs roll per account per capture cycle, so one object holds evidence for items of many ages
and series: an item's records are its versions, the observations that prove it was still
there, its deletion evidence and its media. An object can be destroyed only when every item
it holds records for may be (see docs/retention.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.catalog import tables as t

# More item ids than this are not bound one parameter each (SQLite refuses a statement with
# more than 32,766, PostgreSQL 65,535: a hold of a whole 1,000,000-item archive failed): every
# row is read and the ids are kept here instead, which such a share of the archive costs anyway.
IDS_AS_PARAMETERS = 10_000


def item_objects(session: Session, item_pks: Iterable[int] | None = None) -> dict[int, set[str]]:
    """item row id -> names of the WARCs holding any of its records."""
    pks = None if item_pks is None else sorted(set(item_pks))
    keep = set(pks) if pks is not None and len(pks) > IDS_AS_PARAMETERS else None
    out: dict[int, set[str]] = defaultdict(set)

    def limited(query: Any, column: Any) -> Any:
        return query if pks is None or keep is not None else query.where(column.in_(pks))

    media_keys: dict[int, set[str]] = defaultdict(set)
    for pk, name, media in session.execute(limited(
            select(t.ItemVersion.item_pk, t.ItemVersion.warc_file, t.ItemVersion.media), t.ItemVersion.item_pk)):
        if keep is not None and pk not in keep:
            continue
        out[pk].add(name)
        for m in media or []:
            if isinstance(m, dict) and m.get("media_key"):
                media_keys[pk].add(m["media_key"])
    for pk, name in session.execute(limited(select(t.Observation.item_pk, t.Observation.warc_file),
                                            t.Observation.item_pk)):
        if keep is None or pk in keep:
            out[pk].add(name)
    for pk, name in session.execute(limited(select(t.Tombstone.item_pk, t.Tombstone.evidence_file),
                                            t.Tombstone.item_pk)):
        if name and (keep is None or pk in keep):
            out[pk].add(name)
    wanted = set().union(*media_keys.values()) if media_keys else set()
    if wanted:
        files: dict[str, set[str]] = defaultdict(set)
        names = sorted(wanted)
        for start in range(0, len(names), IDS_AS_PARAMETERS):
            for key, name in session.execute(select(t.MediaCapture.media_key, t.MediaCapture.warc_file).where(
                    t.MediaCapture.media_key.in_(names[start:start + IDS_AS_PARAMETERS]))):
                files[key].add(name)
        for pk, keys in media_keys.items():
            for key in keys:
                out[pk] |= files.get(key, set())
    return dict(out)


def object_items(mapping: dict[int, set[str]]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for pk, names in mapping.items():
        for name in names:
            out[name].add(pk)
    return dict(out)


def objects_holding(session: Session, item_pks: Iterable[int]) -> set[str]:
    """Every object that holds a record of any of these items."""
    return set().union(*item_objects(session, item_pks).values()) if item_pks else set()
