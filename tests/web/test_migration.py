"""Migration 0011 upgrades a catalog that already holds records (SQLite and PostgreSQL), and
the models match the migrated schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from archiver.app import App
from archiver.catalog import tables as t
from archiver.catalog.db import alembic_config, make_engine
from archiver.catalog.search_tables import is_engine_object
from archiver.core.settings import Settings
from archiver.services import users

PASSWORD = "correct horse battery staple"


def test_0011_upgrades_a_catalog_with_data(tmp_path: Path, database_url: str) -> None:
    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), "0006_requests")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (platform, account_id, name, role, api_base, token_ref, status, "
                          "status_message, created_at) VALUES ('facebook', '1000001', 'Lincoln', 'official', '', "
                          "'', 'active', '', :at)"), {"at": datetime(2026, 1, 1, tzinfo=UTC)})
        assert "console_users" not in {r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='table'" if engine.dialect.name == "sqlite" else
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
    engine.dispose()

    app = App(Settings(home=tmp_path / "home", database_url=database_url))
    try:
        with app.catalog.engine.connect() as conn:  # opening upgrades to head
            assert conn.execute(text("SELECT name FROM accounts")).scalar() == "Lincoln"
            context = MigrationContext.configure(
                conn, opts={"include_name": lambda name, kind, parent: not is_engine_object(name, kind, parent)})
            assert compare_metadata(context, t.all_models()) == []
        users.add_user(app, "pat", role="records-officer", password=PASSWORD, actor="test")
        assert users.authenticate(app, "pat", PASSWORD).role == "records-officer"
        assert users.list_users(app)[0].last_login_at is not None
        assert users.list_users(app)[0].last_login_at <= datetime.now(UTC)  # type: ignore[operator]
    finally:
        app.close()


def test_0019_indexes_retain_until_and_downgrades(database_url: str) -> None:
    from sqlalchemy import inspect

    engine = make_engine(database_url)
    config = alembic_config(engine)
    command.upgrade(config, "0015_fixity_deep_checks")

    def indexes() -> set[str]:
        return {ix["name"] for ix in inspect(engine).get_indexes("item_retention") if ix["name"]}

    assert "ix_item_retention_due" not in indexes()
    command.upgrade(config, "0019_console")
    assert "ix_item_retention_due" in indexes()
    command.downgrade(config, "0015_fixity_deep_checks")
    assert "ix_item_retention_due" not in indexes()
    command.upgrade(config, "head")
    with engine.connect() as conn:  # the models match the migrated schema
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, kind, parent: not is_engine_object(name, kind, parent)})
        assert compare_metadata(context, t.all_models()) == []
    engine.dispose()
