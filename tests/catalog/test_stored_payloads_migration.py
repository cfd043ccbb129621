"""Migration 0009 (stored payloads, issue 12 part 3) on a catalog that already holds data."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, inspect, text

from archiver.catalog import tables as t
from archiver.catalog.db import Catalog, alembic_config
from archiver.catalog.payloads import stored_payloads

WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_0009_upgrades_a_catalog_with_data_and_downgrades(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        command.upgrade(alembic_config(engine), "0008_incremental_capture")  # a catalog as it was before
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO accounts (platform, account_id, name, role, api_base, token_ref, "
                              "status, status_message, created_at) VALUES ('facebook', '1', 'Lincoln', 'school', "
                              "'', '', 'ok', '', :at)"), {"at": WHEN})
            conn.execute(text("INSERT INTO warc_files (name, size, sha256, records, first_date, last_date, "
                              "store_key, stored_at) VALUES ('a.warc.gz', 10, 'x', 3, :at, :at, 'warc/a', :at)"),
                         {"at": WHEN})
        assert "stored_payloads" not in inspect(engine).get_table_names()
        command.upgrade(alembic_config(engine), "head")
        assert "stored_payloads" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    catalog = Catalog(database_url)
    try:
        with catalog.session() as s:
            account = s.query(t.Account).one()  # the data survived
            assert s.query(t.StoredPayload).count() == 0  # starts empty: the next poll fills it
            s.add(t.StoredPayload(account_pk=account.id, uri_sha256="0" * 64, target_uri="https://x/feed",
                                  payload_digest="sha256:" + "1" * 64, record_id="<urn:uuid:1>",
                                  warc_date=WHEN, warc_file="a.warc.gz", warc_offset=0, warc_length=5))
        with catalog.session() as s:
            found = stored_payloads(s, account.id)
            assert found["https://x/feed"].pointer.record_id == "<urn:uuid:1>"
            assert found["https://x/feed"].date == WHEN
    finally:
        catalog.dispose()
    engine = create_engine(database_url)
    try:
        command.downgrade(alembic_config(engine), "0008_incremental_capture")
        assert "stored_payloads" not in inspect(engine).get_table_names()
        command.upgrade(alembic_config(engine), "head")
    finally:
        engine.dispose()


def test_the_newest_response_wins_whatever_order_warcs_are_indexed_in(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A WARC left in the spool and indexed after a newer one must not make the live catalog
    differ from a rebuild (which indexes in name order)."""
    from archiver.catalog.db import open_catalog
    from archiver.catalog.payloads import PayloadRows
    from archiver.core.models import WarcPointer
    from archiver.warc.reader import Record
    from archiver.warc.revisit import payload_digest

    def response(name: str, day: int, body: bytes) -> Record:
        headers = {"WARC-Date": f"2026-12-0{day}T09:00:00Z", "WARC-Target-URI": "https://x/feed",
                   "WARC-Payload-Digest": payload_digest(body)}
        return Record(WarcPointer(name, 100, 50, f"<urn:uuid:{day}>"), "response", headers, 200, (), body)

    newer, older = response("b.warc.gz", 2, b'{"new": true}'), response("a.warc.gz", 1, b'{"old": true}')
    catalog = open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        for order in ([older, newer], [newer, older]):
            with catalog.session() as s:
                s.query(t.StoredPayload).delete()
                s.query(t.Account).delete()
                account = t.Account(platform="facebook", account_id="1", created_at=WHEN)
                s.add(account)
                s.flush()
                for record in order:
                    PayloadRows(s, account.id).record(record)
                    s.flush()
            with catalog.session() as s:
                row = s.query(t.StoredPayload).one()
                assert (row.warc_file, row.record_id) == ("b.warc.gz", "<urn:uuid:2>"), order
    finally:
        catalog.dispose()
