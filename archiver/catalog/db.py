"""Open the catalog, and either bring its schema to the newest Alembic revision (`migrate`,
capture, the daemon) or only check that it is there (every other command).

Alembic is imported only to upgrade: a read command compares the catalog's alembic_version
with the head revision found by reading the migration files' `revision = ...` lines
(archiver.catalog.revisions), which costs a millisecond where importing Alembic's machinery
costs a third of a second.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from archiver.catalog.revisions import MIGRATIONS, head_revisions, known_revisions
from archiver.core.errors import CatalogError
from archiver.core.plain_settings import mask_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATE_HINT = "run 'archiver migrate'"


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _private_sqlite_file(url: str) -> None:
    """Create a new SQLite catalog 0600 before SQLite does (it would honour the umask, often
    leaving student data world-readable); its -wal and -shm files copy the database's mode."""
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # SQLite reports an unusable path in its own words
    os.close(fd)


def make_engine(url: str) -> Engine:
    _private_sqlite_file(url)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


class Catalog:
    """The engine and a session factory; `upgrade()` is idempotent and cheap when current."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        from alembic import command

        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            command.upgrade(alembic_config(self.engine), "head")
        except OperationalError as exc:
            raise self._unreachable(exc) from exc

    def revisions(self) -> frozenset[str]:
        """The revisions the catalog's alembic_version table names (empty: no schema yet)."""
        query = "SELECT version_num FROM alembic_version"
        try:
            with self.engine.connect() as conn:
                try:  # one statement (one round trip) in the usual case
                    return frozenset(conn.exec_driver_sql(query).scalars())
                except DBAPIError:
                    conn.rollback()  # no such table, most likely; asked properly below
                if not inspect(conn).has_table("alembic_version"):
                    return frozenset()
                return frozenset(conn.exec_driver_sql(query).scalars())
        except OperationalError as exc:
            raise self._unreachable(exc) from exc

    def check_schema(self) -> None:
        """Refuse, in one line, a catalog whose schema is not this archiver's head revision:
        reading an older schema would fail later with an SQL error, and upgrading is a
        deliberate step (`archiver migrate`), not a side effect of a read."""
        found, heads = self.revisions(), head_revisions()
        if found == heads:
            return
        where = f"The catalog at {mask_url(self.url)}"
        if not found:
            raise CatalogError(f"{where} has no schema yet; {MIGRATE_HINT} to create it")
        if found - known_revisions():
            raise CatalogError(
                f"{where} is at revision {', '.join(sorted(found))}, newer than this archiver knows; "
                "upgrade the archiver before using this catalog")
        raise CatalogError(
            f"{where} is at revision {', '.join(sorted(found))}, older than this archiver's "
            f"{', '.join(sorted(heads))}; {MIGRATE_HINT} to upgrade it")

    def _unreachable(self, exc: OperationalError) -> CatalogError:
        return CatalogError(
            f"Cannot open the catalog at {mask_url(self.url)}: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}; "
            "check ARCHIVER_DATABASE_URL and that the database is running"
        )

    def table_names(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise CatalogError(
                f"Catalog update failed ({type(exc).__name__}); nothing was changed",
                detail=str(exc),
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_catalog(url: str, *, upgrade: bool = True) -> Catalog:
    """The catalog at `url`, upgraded to head (`upgrade`) or checked to be at head."""
    catalog = Catalog(url)
    if upgrade:
        catalog.upgrade()
    else:
        catalog.check_schema()
    return catalog
