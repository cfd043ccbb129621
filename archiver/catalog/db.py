"""Open the catalog and bring its schema to the newest Alembic revision."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from archiver.core.errors import CatalogError
from archiver.core.settings import mask_url

MIGRATIONS = Path(__file__).with_name("migrations")


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
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            command.upgrade(alembic_config(self.engine), "head")
        except OperationalError as exc:
            raise CatalogError(
                f"Cannot open the catalog at {mask_url(self.url)}: "
                f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}; "
                "check ARCHIVER_DATABASE_URL and that the database is running"
            ) from exc

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


def open_catalog(url: str) -> Catalog:
    catalog = Catalog(url)
    catalog.upgrade()
    return catalog
