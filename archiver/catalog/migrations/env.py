"""Alembic environment: the engine comes from the caller (archiver.catalog.db)."""

from __future__ import annotations

from alembic import context

from archiver.catalog.tables import all_models

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=all_models(),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
