"""The read commands' cost (issue 13 parts 3 and 5): `items show` in a fixed, small number of
SQL statements whatever the item holds (no N+1: on PostgreSQL each statement is a round trip),
the same answer as reading every relationship one by one, and read commands that import only
what they use (checked through sys.modules in a fresh interpreter, never by timing)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

from click.testing import CliRunner
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from archiver.app import App
from archiver.catalog import lite, queries
from archiver.catalog import tables as t
from archiver.cli.items import DEFAULT_LIMIT as CLI_DEFAULT_LIMIT
from archiver.cli.main import cli
from archiver.services.items import DEFAULT_LIMIT, show_item

REPO = Path(__file__).resolve().parents[2]
SHOW_STATEMENTS = 4  # the item with everything joined, media, fixity of its evidence, thread
HEAVY = ("alembic", "boto3", "botocore", "warcio", "weasyprint", "fpdf", "httpx", "connectors", "cryptography")


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement sent while the block runs: any engine's, and the driver-only read
    path's (archiver.catalog.lite, which `items list` and `items show` take without SQLAlchemy)."""
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = sqlite3.connect(*args, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    real_execute = lite._Postgres.execute

    def pg_execute(self: Any, query: str, params: Any = ()) -> Any:
        seen.append(query)
        return real_execute(self, query, params)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        with mock.patch.object(lite, "sqlite3", SimpleNamespace(connect=traced, Error=sqlite3.Error)), \
                mock.patch.object(lite._Postgres, "execute", pg_execute):
            yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def _reference(app: App, item_id: str) -> dict[str, object]:
    """What `items show` must say, read the slow way: every relationship loaded on its own."""
    with app.catalog.session() as s:
        item = s.scalars(select(t.Item).where(t.Item.item_id == item_id).order_by(t.Item.id)).first()
        assert item is not None
        observations = s.scalar(select(func.count()).where(t.Observation.item_pk == item.id))
        parent = [p for p in queries.list_items(s, item_ids=[item.parent_id]) if p.platform == item.platform] \
            if item.parent_id else []
        replies = sorted((r for r in queries.list_items(s, parent_id=item.item_id) if r.platform == item.platform),
                         key=lambda r: (r.created_at or "", r.id))
        return {
            "versions": [(v.version_no, v.content_sha256, v.warc_file, v.warc_offset) for v in item.versions],
            "tombstone": item.tombstone.evidence_record_id if item.tombstone else None,
            "observations": observations,
            "parent": parent[0].id if parent else None,
            "replies": [r.id for r in replies],
        }


def test_items_show_is_a_fixed_number_of_statements_and_the_same_answer(app: App) -> None:
    with app.catalog.session() as s:
        most_replies = s.execute(select(t.Item.parent_id, func.count()).where(t.Item.parent_id.is_not(None))
                                 .group_by(t.Item.parent_id).order_by(func.count().desc())).first()
        edited = s.scalar(select(t.Item.item_id).where(t.Item.version_count > 1))
        deleted = s.scalar(select(t.Item.item_id).where(t.Item.deleted_at.is_not(None)))
        reply = s.scalar(select(t.Item.item_id).where(t.Item.kind != "post", t.Item.parent_id.is_not(None)))
        with_media = s.scalar(select(t.Item.item_id).join(t.ItemVersion, t.ItemVersion.item_pk == t.Item.id)
                              .where(func.length(func.coalesce(t.ItemVersion.media, "")) > 4))
    assert most_replies is not None and most_replies[1] >= 2, "the archive should have a thread"
    assert edited and deleted and reply
    cases = [str(most_replies[0]), edited, deleted, reply] + ([with_media] if with_media else [])
    for item_id in cases:
        with statements() as seen:
            detail = show_item(app, item_id)
        assert len(seen) <= SHOW_STATEMENTS, f"items show {item_id}: {len(seen)} statements:\n" + "\n".join(seen)
        expected = _reference(app, item_id)
        assert [(v.version, v.content_sha256, v.warc["file"], v.warc["offset"]) for v in detail.versions] \
            == expected["versions"]
        assert (detail.tombstone["evidence"]["record_id"] if detail.tombstone else None) == expected["tombstone"]
        assert detail.observations == expected["observations"]
        assert (detail.parent.id if detail.parent else None) == expected["parent"]
        assert [r.id for r in detail.replies] == expected["replies"]
    assert len(_reference(app, most_replies[0])["replies"]) >= 2  # type: ignore[arg-type]


def test_items_show_command_stays_within_the_budget(app: App) -> None:
    """The whole command: one schema check (alembic_version only) plus the detail's statements."""
    env = {"ARCHIVER_HOME": str(app.settings.home)}
    with app.catalog.session() as s:
        post = s.scalar(select(t.Item.parent_id).where(t.Item.parent_id.is_not(None)))
    with statements() as seen, mock.patch.object(lite, "show_item", wraps=lite.show_item) as light:
        shown = CliRunner().invoke(cli, ["items", "show", str(post), "--json"], env=env, catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert light.call_count == 1  # the driver-only path answered: its statements are counted above
    assert json.loads(shown.output)["replies"]
    assert len(seen) <= 1 + SHOW_STATEMENTS, "\n".join(seen)
    assert not [q for q in seen if "table_info" in q or "information_schema" in q or "pg_catalog" in q]


def _modules_after(args: list[str], env: dict[str, str]) -> list[str]:
    code = (
        "import sys, json\n"
        "from archiver.cli.main import cli\n"
        "try:\n"
        f"    cli({args!r}, prog_name='archiver', standalone_mode=False)\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def _loaded(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [p for p in packages if any(m == p or m.startswith(p + ".") for m in modules)]


def test_a_command_groups_help_imports_no_database_layer(tmp_path: Path) -> None:
    modules = _modules_after(["items", "--help"], {"ARCHIVER_HOME": str(tmp_path)})
    assert _loaded(modules, ("sqlalchemy", "pydantic", "archiver.services", "archiver.app", *HEAVY)) == []
    assert CLI_DEFAULT_LIMIT == DEFAULT_LIMIT  # the CLI's copy (kept for this) says what the service does


def test_read_commands_import_nothing_heavy(app: App) -> None:
    env = {"ARCHIVER_HOME": str(app.settings.home)}
    with app.catalog.session() as s:
        item_id = s.scalar(select(t.Item.item_id).where(t.Item.parent_id.is_not(None)))
    for args in (["items", "list", "--limit", "100"], ["items", "show", str(item_id)], ["search", "post"]):
        modules = _modules_after(args, env)
        assert _loaded(modules, HEAVY) == [], args


def test_verify_imports_neither_the_warc_parser_nor_the_capture_side(app: App) -> None:
    """Fixity streams whole objects: no warcio, and not the outbox, indexer or retention rules
    (they cost verify half a second of start-up before)."""
    modules = _modules_after(["verify", "--sample", "10", "--json"], {"ARCHIVER_HOME": str(app.settings.home)})
    assert "archiver.preservation.fixity" in modules
    capture_side = ("archiver.preservation.outbox", "archiver.catalog.indexer", "archiver.retention",
                    "archiver.preservation.rebuild")
    assert _loaded(modules, ("alembic", "boto3", "botocore", "warcio", "weasyprint", "httpx", "connectors",
                             *capture_side)) == []
