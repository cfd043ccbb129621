"""Sightings indexed out of capture order: an earlier capture's WARC indexed after a later one.

A worker killed mid-capture leaves its WARC in its spool; the next start's sweep indexes it,
often after another worker has captured (and indexed) the same account again. The catalog
must come out as if the WARCs had been indexed in capture order, as `catalog rebuild` reads
them, so the live and the rebuilt catalogs agree: the earlier sighting sets `first_seen_at`,
becomes the item's first version where its content was first seen there, and an earlier
deletion record is the item's tombstone.

The indexer hands over, per item it already knew from a later sighting, what this WARC saw
(`LatePoint`); `place` puts each into the item's version history by time:
- same content as the version current at that time: only the observation is added;
- the content of the next version, with no sighting of the current one in between: that
  version began earlier than known, so it moves to this record;
- otherwise a version of its own, numbered in time order (later versions renumbered). If the
  earlier content was seen again after this point, that sighting starts a version of its own
  too (an edit reverted). It points at that sighting's record when the catalog knows it as an
  original response (a stored payload), else at the earlier version's record: the sighting
  was then most likely a revisit of that payload, whose original `catalog rebuild` resolves
  to. Only when neither holds (a revisit of another identical payload) do the pointers of
  that one version differ from a rebuild's; its content, number and time agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from archiver.catalog import tables as t

_VERSIONS = t.Base.metadata.tables["item_versions"]


@dataclass(slots=True)
class LatePoint:
    item_pk: int
    when: datetime
    version: dict[str, Any]  # the item_versions values this record would start (no item_pk)
    observation: dict[str, Any] | None  # this run's first sighting of the item, else None


@dataclass(slots=True)
class LateTombstone:
    item_pk: int
    row: dict[str, Any]  # tombstones values (no item_pk)


def place(s: Session, points: list[LatePoint], tombstones: list[LateTombstone]) -> list[tuple[int, int, str]]:
    """Apply the late sightings and deletions; returns new versions as (version id, item id,
    text) for the search index."""
    fresh: list[tuple[int, int, str]] = []
    touched: set[int] = set()
    for point in points:
        fresh += _place(s, point)
        touched.add(point.item_pk)
    for stone in tombstones:
        s.execute(update(t.Tombstone).where(t.Tombstone.item_pk == stone.item_pk).values(stone.row))
        s.execute(update(t.Item).where(t.Item.id == stone.item_pk).values(deleted_at=stone.row["detected_at"]))
    for item_pk in touched:
        latest = s.scalar(select(t.ItemVersion.id).where(t.ItemVersion.item_pk == item_pk)
                          .order_by(t.ItemVersion.version_no.desc()).limit(1))
        count = s.scalar(select(func.count()).select_from(t.ItemVersion).where(t.ItemVersion.item_pk == item_pk))
        s.execute(update(t.Item).where(t.Item.id == item_pk).values(latest_version_pk=latest, version_count=count))
    return fresh


def _place(s: Session, p: LatePoint) -> list[tuple[int, int, str]]:
    v = t.ItemVersion
    versions = s.execute(select(v.id, v.version_no, v.content_sha256, v.observed_at)
                         .where(v.item_pk == p.item_pk).order_by(v.version_no)).all()
    prev = next((r for r in reversed(versions) if r.observed_at <= p.when), None)
    nxt = next((r for r in versions if r.observed_at > p.when), None)
    sha = p.version["content_sha256"]
    fresh: list[tuple[int, int, str]] = []
    s.execute(update(t.Item).where(t.Item.id == p.item_pk, t.Item.first_seen_at > p.when)
              .values(first_seen_at=p.when))
    seen_again = [] if prev is None else s.execute(
        select(t.Observation.id, t.Observation.observed_at, t.Observation.warc_file, t.Observation.warc_offset,
               t.Observation.warc_length)
        .where(t.Observation.item_pk == p.item_pk, t.Observation.version_pk == prev.id,
               t.Observation.observed_at > p.when)
        .order_by(t.Observation.observed_at)).all()
    if prev is not None and prev.content_sha256 == sha:
        target = prev.id
    elif nxt is not None and nxt.content_sha256 == sha and not seen_again:
        s.execute(update(v).where(v.id == nxt.id).values(p.version))  # it began here
        target = nxt.id
    else:
        number = prev.version_no + 1 if prev is not None else 1
        _shift(s, p.item_pk, number, 2 if seen_again else 1)
        target = _insert(s, p.item_pk, number, p.version)
        fresh.append((target, p.item_pk, p.version.get("text") or ""))
        if seen_again and prev is not None:  # the earlier content again after this edit
            first = seen_again[0]
            again = _copy(s, prev.id, number + 1, first)
            fresh.append((again, p.item_pk, _text(s, again)))
            s.execute(update(t.Observation).where(t.Observation.id.in_([o.id for o in seen_again]))
                      .values(version_pk=again))
    if p.observation is not None:
        s.execute(insert(t.Observation).values(p.observation | {"item_pk": p.item_pk, "version_pk": target}))
    return fresh


def _shift(s: Session, item_pk: int, from_no: int, by: int) -> None:
    """Renumber versions `from_no` and later by `by`, in two steps so the unique (item,
    number) pair never collides on the way."""
    v = t.ItemVersion
    where = (v.item_pk == item_pk, v.version_no >= from_no)
    s.execute(update(v).where(*where).values(version_no=-(v.version_no + by)))
    s.execute(update(v).where(v.item_pk == item_pk, v.version_no < 0).values(version_no=-v.version_no))


def _insert(s: Session, item_pk: int, number: int, values: dict[str, Any]) -> int:
    row = values | {"item_pk": item_pk, "version_no": number}
    return int(s.execute(insert(_VERSIONS).values(row).returning(_VERSIONS.c.id)).scalar_one())


def _copy(s: Session, version_pk: int, number: int, seen: Any) -> int:
    """A new version with `version_pk`'s content, first seen at the observation `seen`."""
    source = s.execute(select(_VERSIONS).where(_VERSIONS.c.id == version_pk)).mappings().one()
    record_id = s.scalar(select(t.StoredPayload.record_id).where(
        t.StoredPayload.warc_file == seen.warc_file, t.StoredPayload.warc_offset == seen.warc_offset)) or ""
    values = {k: source[k] for k in ("item_pk", "content_sha256", "content", "media", "text", "author", "url",
                                     "warc_file", "warc_offset", "warc_length", "warc_record_id")}
    values |= {"version_no": number, "observed_at": seen.observed_at}
    if record_id:  # the sighting's record is an original response: the content is in it
        values |= {"warc_file": seen.warc_file, "warc_offset": seen.warc_offset,
                   "warc_length": seen.warc_length, "warc_record_id": record_id}
    # else most likely a revisit of the payload the earlier version was read from: point there
    return int(s.execute(insert(_VERSIONS).values(values).returning(_VERSIONS.c.id)).scalar_one())


def _text(s: Session, version_pk: int) -> str:
    return s.scalar(select(t.ItemVersion.text).where(t.ItemVersion.id == version_pk)) or ""

