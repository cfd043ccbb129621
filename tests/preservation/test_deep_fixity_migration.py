"""Migration 0015 (fixity deep checks) on a catalog that already holds a fixity log, SQLite and
PostgreSQL: upgrade keeps the log, the models match the schema, downgrade removes exactly what
it added and a second upgrade works."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from archiver.catalog import tables as t
from archiver.catalog.db import Catalog, alembic_config, make_engine
from archiver.catalog.fixity_tables import FixityDeepCheck
from archiver.catalog.search_tables import is_engine_object

BEFORE = "0013_quota_budgets"
THIS = "0015_fixity_deep_checks"
WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_0015_upgrades_a_catalog_with_a_fixity_log_and_downgrades(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        command.upgrade(alembic_config(engine), BEFORE)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO fixity_checks (run_id, warc_name, store_key, checked_at, verdict, "
                              "detail) VALUES ('r1', 'a.warc.gz', 'warc/a', :at, 'ok', '')"), {"at": WHEN})
        assert "fixity_deep_checks" not in inspect(engine).get_table_names()
        command.upgrade(alembic_config(engine), THIS)
        assert "fixity_deep_checks" in inspect(engine).get_table_names()
        assert "level" in {c["name"] for c in inspect(engine).get_columns("fixity_checks")}
        command.upgrade(alembic_config(engine), "head")  # the models are the head's schema
    finally:
        engine.dispose()

    catalog = Catalog(database_url)
    try:
        with catalog.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_name": lambda name, kind, parent: not is_engine_object(name, kind, parent)})
            assert compare_metadata(context, t.all_models()) == []
        with catalog.session() as s:
            old = s.query(t.FixityCheck).one()  # the log survived; older verdicts have no level
            assert (old.run_id, old.verdict, old.level) == ("r1", "ok", None)
            s.add(FixityDeepCheck(warc_name="a.warc.gz", plaintext_sha256="a" * 64, records=3,
                                  checked_at=WHEN, run_id="r2"))
            s.add(t.FixityCheck(run_id="r2", warc_name="a.warc.gz", store_key="warc/a", checked_at=WHEN,
                                verdict="ok", detail="", level="deep"))
        with catalog.session() as s:
            got = s.get(FixityDeepCheck, "a.warc.gz")
            assert got is not None and (got.plaintext_sha256, got.records, got.checked_at) == ("a" * 64, 3, WHEN)
    finally:
        catalog.dispose()

    engine = make_engine(database_url)
    try:
        command.downgrade(alembic_config(engine), BEFORE)
        assert "fixity_deep_checks" not in inspect(engine).get_table_names()
        assert "level" not in {c["name"] for c in inspect(engine).get_columns("fixity_checks")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM fixity_checks")).scalar() == 2
        command.upgrade(alembic_config(engine), THIS)
        assert "fixity_deep_checks" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
