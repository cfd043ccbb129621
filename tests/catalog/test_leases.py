"""Account leases on SQLite and PostgreSQL: one worker per account at a time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from archiver.app import App
from archiver.catalog import tables as t
from archiver.catalog.search_tables import is_engine_object
from archiver.core.settings import Settings
from archiver.daemon.leases import claim, release

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=30)


def _app(tmp_path: Path, database_url: str, accounts: int) -> App:
    app = App(Settings(home=tmp_path / "home", database_url=database_url))
    with app.catalog.session() as s:
        for n in range(accounts):
            s.add(t.Account(platform="facebook", account_id=str(1000 + n), created_at=NOW))
    return app


def test_migrations_match_the_models(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url, 0)
    with app.catalog.engine.connect() as conn:
        # The search engines' own structures (FTS5 tables, GIN index) are not models.
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, kind, parent: not is_engine_object(name, kind, parent)})
        assert compare_metadata(context, t.all_models()) == []
    app.close()


def test_a_lease_is_exclusive_until_released_or_expired(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url, 1)
    try:
        assert claim(app, "worker-a", 1, NOW, LEASE)
        assert claim(app, "worker-a", 1, NOW, LEASE)  # renewing one's own lease
        assert not claim(app, "worker-b", 1, NOW + timedelta(minutes=5), LEASE)
        release(app, "worker-a", 1)
        assert claim(app, "worker-b", 1, NOW + timedelta(minutes=6), LEASE)
        # worker-b dies; its lease runs out and worker-a may take over
        assert not claim(app, "worker-a", 1, NOW + timedelta(minutes=20), LEASE)
        assert claim(app, "worker-a", 1, NOW + timedelta(minutes=37), LEASE)
    finally:
        app.close()


def test_concurrent_workers_split_the_accounts(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url, 40)
    won: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(won))

    def work(name: str) -> None:
        start.wait()
        for pk in range(1, 41):
            if claim(app, name, pk, NOW, LEASE):
                won[name].append(pk)

    threads = [threading.Thread(target=work, args=(name,)) for name in won]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app.close()
    claimed = [pk for pks in won.values() for pk in pks]
    assert sorted(claimed) == list(range(1, 41))  # every account once, none twice
