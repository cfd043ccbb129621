"""The catalog's migration revisions, read from the migration files without Alembic or
SQLAlchemy: what a read command compares the catalog's alembic_version with (archiver.catalog.db,
archiver.catalog.lite)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")

# A top-level `revision = "..."` or `down_revision = ...` line, as Alembic's templates write them.
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


@cache
def _revision_graph() -> dict[str, tuple[str, ...]]:
    """Each migration's revision id and the ids it revises, read from the files' top-level
    assignments (what Alembic reads too) without importing them or Alembic."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        values = {name: ast.literal_eval(value)
                  for name, value in _ASSIGNMENT.findall(path.read_text(encoding="utf-8"))}
        if "revision" not in values:
            continue
        down = values.get("down_revision")
        graph[values["revision"]] = tuple(down) if isinstance(down, (tuple, list)) else ((down,) if down else ())
    return graph


def known_revisions() -> frozenset[str]:
    return frozenset(_revision_graph())


def head_revisions() -> frozenset[str]:
    """The revisions no other migration revises (one, unless branches were left unmerged)."""
    graph = _revision_graph()
    revised = {down for downs in graph.values() for down in downs}
    return frozenset(graph) - revised
