"""Which objects hold records of more items than a statement can bind (issue 15): a hold of a
whole 1,000,000-item archive failed in `objects_holding` ("too many SQL variables") when it was
placed and on every `holds list` and /holds page after."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from archiver.catalog import tables as t
from archiver.catalog.db import open_catalog
from archiver.retention.objects import IDS_AS_PARAMETERS, item_objects, objects_holding

WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ITEMS = 33_000  # more ids than SQLite binds in one statement (32,766)


def test_objects_of_more_items_than_one_statement_binds(tmp_path: Path) -> None:
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    try:
        with catalog.session() as s:
            s.execute(insert(t.Account), [{"id": 1, "platform": "facebook", "account_id": "1", "created_at": WHEN}])
            s.execute(insert(t.Item), [
                {"id": n, "account_pk": 1, "platform": "facebook", "item_id": f"i{n}", "kind": "comment",
                 "first_seen_at": WHEN, "last_seen_at": WHEN} for n in range(1, ITEMS + 1)])
            s.execute(insert(t.ItemVersion), [
                {"id": n, "item_pk": n, "version_no": 1, "content_sha256": "x", "content": {}, "media": [],
                 "observed_at": WHEN, "warc_file": f"w{n % 3}.warc.gz", "warc_offset": 0, "warc_length": 1,
                 "warc_record_id": "r"} for n in range(1, ITEMS + 1)])
            s.execute(insert(t.Tombstone), [{"item_pk": 7, "detected_at": WHEN, "reason": "gone",
                                             "evidence_file": "t.warc.gz", "evidence_offset": 0,
                                             "evidence_length": 1, "evidence_record_id": "e",
                                             "metadata_record_id": "m"}])
        with catalog.session() as s:
            everything = item_objects(s)
            every_id = list(range(1, ITEMS + 1))
            assert objects_holding(s, every_id) == {"w0.warc.gz", "w1.warc.gz", "w2.warc.gz", "t.warc.gz"}
            assert item_objects(s, every_id) == everything
            some = list(range(2, ITEMS, 2))  # over the limit, not every item
            assert len(some) > IDS_AS_PARAMETERS
            assert item_objects(s, some) == {pk: everything[pk] for pk in some}
            assert item_objects(s, [7, 8]) == {7: {"w1.warc.gz", "t.warc.gz"}, 8: {"w2.warc.gz"}}
    finally:
        catalog.dispose()
