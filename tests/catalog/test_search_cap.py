"""Search over the ranking cap: more matches than RANK_LIMIT are shown newest first, unranked,
the same on SQLite and PostgreSQL, and the officer is told; below the cap nothing changes.

The cap is 10,000 in production; these tests lower it (monkeypatch) so a ten-item corpus
crosses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event, text

from archiver.app import App
from archiver.catalog import search as search_mod
from archiver.catalog.db import Catalog, open_catalog
from archiver.catalog.search import SearchFilters, search
from archiver.cli.main import cli
from archiver.core.settings import Settings
from archiver.services import audit as audit_svc
from archiver.services import requests as requests_svc
from tests.catalog.search_corpus import CORPUS, seed
from tests.catalog.test_catalog_scale import _plan_scans
from tests.catalog.test_search import CASES
from tests.conftest import _pg_database

DAYS = {item_id: days for item_id, *_, days in CORPUS}  # created T0 + days: the newest is the largest


def newest_first(ids: set[str]) -> list[str]:
    return sorted(ids, key=lambda i: DAYS[i], reverse=True)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('cap') / 'catalog.sqlite'}"])
    else:
        urls = _pg_database()
    catalog = open_catalog(next(urls))
    with catalog.session() as s:
        seed(s)
    yield catalog
    catalog.dispose()
    next(urls, None)


@pytest.mark.parametrize("walk", ["index walk", "listed from the full-text index"])
@pytest.mark.parametrize(("query", "filters", "expected"), CASES, ids=[c[0] for c in CASES])
def test_over_the_cap_the_newest_matches_come_first_with_every_filter(
        catalog: Catalog, monkeypatch: pytest.MonkeyPatch, query: str, filters: SearchFilters | None,
        expected: set[str], walk: str) -> None:
    """Cap 0: every query that matches anything is over it. The same items as ranked search
    (every filter applies), in created order, newest first: one list, so the same on both engines.
    With WALK_LIMIT 1 the walk gives up at once and the matches are listed and sorted instead."""
    monkeypatch.setattr(search_mod, "RANK_LIMIT", 0)
    if walk != "index walk":
        monkeypatch.setattr(search_mod, "WALK_LIMIT", 1)
    with catalog.session() as s:
        result = search(s, query, filters)
    assert result.ids == newest_first(expected)
    if expected:
        assert not result.ranked and result.total_text == "more than 0"
        assert all(h.score == 0.0 for h in result.hits)


def test_over_the_cap_says_so_and_keeps_the_page_limit(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_mod, "RANK_LIMIT", 3)
    with catalog.session() as s:
        result = search(s, "contract*", limit=2)  # p1, c1, r1, p3: four items
        kept = search(s, "contract*", SearchFilters(account="facebook:1000001"), limit=2)
    assert result.ids == ["p3", "r1"] and not result.ranked
    assert result.total_text == "more than 3" and result.total == 4
    assert result.note == ("More than 3 matches: newest first. Narrow the search (account, dates, "
                           "phrase) to rank by relevance.")
    data = result.as_dict()
    assert data["ranked"] is False and data["order"] == "newest" and data["total"] == "more than 3"
    assert data["more_than"] == 3 and [h["id"] for h in data["hits"]] == ["p3", "r1"]
    assert kept.ids == ["p3", "r1"] and not kept.ranked  # the account path (search1m) too
    # highlights and matched versions are worked out as for ranked hits
    assert result.hits[1].marked() == "Thanks Pat, the [contract] details are online."


def test_at_or_below_the_cap_ranking_is_unchanged(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    with catalog.session() as s:
        before = [(h.id, h.score) for h in search(s, "contract*").hits]
        monkeypatch.setattr(search_mod, "RANK_LIMIT", 4)  # exactly four match: not more than the cap
        at_cap = search(s, "contract*")
        monkeypatch.setattr(search_mod, "RANK_LIMIT", 3)
        over = search(s, "contract*", rank_limit=4)  # an explicit cap wins over the module's
    assert at_cap.ranked and at_cap.total == 4 and [(h.id, h.score) for h in at_cap.hits] == before
    assert over.ranked and over.ids == at_cap.ids
    assert at_cap.as_dict()["total"] == 4 and at_cap.as_dict()["ranked"] is True


@pytest.mark.parametrize("walk_limit", [50_000, 1])
def test_items_without_a_created_time_come_after_the_dated_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                walk_limit: int) -> None:
    monkeypatch.setattr(search_mod, "WALK_LIMIT", walk_limit)
    catalog = open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    pg_urls = _pg_database()
    pg = open_catalog(next(pg_urls))
    try:
        found = []
        for cat in (catalog, pg):
            with cat.session() as s:
                pks = seed(s)
                s.execute(text("UPDATE items SET created_at = NULL WHERE id IN (:a, :b)"),
                          {"a": pks["p1"], "b": pks["c5"]})
            with cat.session() as s:
                found.append(search(s, "bus*", rank_limit=0).ids)  # p1, c1, c2, c5
        assert found[0] == found[1] == ["c2", "c1", "c5", "p1"]  # undated: newest id first
    finally:
        catalog.dispose()
        pg.dispose()
        next(pg_urls, None)


def test_the_over_cap_walk_reads_no_table_whole(tmp_path: Path, database_url: str) -> None:
    """EXPLAIN of the newest-first statements: the created-time index is walked, each item is
    tested with an index probe (FTS5 `rowid = ? AND MATCH`, or the item's search rows), and no
    items or search table is scanned. The count to the cap reads the index of matches, LIMITed."""
    catalog = open_catalog(database_url)
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, params))

    try:
        with catalog.session() as s:
            seed(s)
        event.listen(catalog.engine, "before_cursor_execute", record)
        try:
            with catalog.session() as s:
                assert search(s, "contract*", SearchFilters(edited=False, since=datetime(2026, 3, 1, tzinfo=UTC).date()),
                              rank_limit=1).ids == ["p3", "r1", "c1", "p1"]
        finally:
            event.remove(catalog.engine, "before_cursor_execute", record)
        walks = [(st, p) for st, p in statements if "ORDER BY items.created_at DESC" in st]
        reads = [(st, p) for st, p in statements if "WHERE search_docs.item_pk IN" in st]  # SQLite's batches
        assert walks, "the over-cap search did not walk the created-time index"
        with catalog.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                for knob in ("seqscan", "hashjoin", "mergejoin", "sort"):
                    conn.execute(text(f"SET enable_{knob} = off"))
            scans = {}
            for statement, params in walks + reads:
                found = [line for line in _plan_scans(conn, statement, params)
                         if "VIRTUAL TABLE INDEX 0:=" not in line]  # FTS5 testing one rowid
                if found:
                    scans[" ".join(statement.split())[:200]] = found
            statement, params = walks[0]
            if conn.dialect.name == "sqlite":
                plan = " ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
                assert "USING COVERING INDEX ix_items_created" in plan or "USING INDEX ix_items_created" in plan, plan
                assert "TEMP B-TREE" not in plan, plan  # no sort of the matches
            else:
                plan = " ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, params))
                assert "Backward using ix_items_created" in plan and "Sort" not in plan, plan
        assert scans == {}, json.dumps(scans, indent=1)
    finally:
        catalog.dispose()


# --- what the officer sees ------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Result]:
    home = tmp_path / "home"
    app = App(Settings(home=home))
    with app.catalog.session() as s:
        seed(s)
    app.close()
    env = {"ARCHIVER_HOME": str(home), "ARCHIVER_ACTOR": "officer", "COLUMNS": "200"}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_the_cli_says_newest_first_over_the_cap(run: Callable[..., Result], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_mod, "RANK_LIMIT", 2)
    out = run("search", "contract*", "--limit", "3")
    assert out.exit_code == 0, out.output
    assert ("More than 2 matches: newest first. Narrow the search (account, dates, phrase) to rank "
            "by relevance.") in " ".join(out.output.split())
    assert "the newest 3 shown" in out.output and "items match" not in out.output
    assert out.output.index("post p3") < out.output.index("reply r1") < out.output.index("comment c1")
    app = App(Settings(home=tmp_path / "home"))  # the fixture's archive: the search was audited
    try:
        logged = [e.details for e in audit_svc.list_entries(app, limit=5) if e.action == "search"][0]
    finally:
        app.close()
    assert logged["ranked"] is False and logged["more_than"] == 2 and logged["shown"] == 3
    data = json.loads(run("search", "contract*", "--json").output)
    assert data["ranked"] is False and data["total"] == "more than 2" and data["more_than"] == 2
    assert data["note"].startswith("More than 2 matches: newest first.")
    assert [h["id"] for h in data["hits"]] == ["p3", "r1", "c1", "p1"]
    ranked = json.loads(run("search", '"bus contract"', "--json").output)  # two: at the cap
    assert ranked["ranked"] is True and ranked["total"] == 2 and "note" not in ranked
    assert "2 items match" in run("search", '"bus contract"').output


def test_requests_add_refuses_a_query_over_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`requests add --query` never attaches a newest-first page: over MAX_ADD it refuses."""
    app = App(Settings(home=tmp_path / "home"))
    try:
        with app.catalog.session() as s:
            seed(s)
        opened = requests_svc.open_request(app, requester="Pat Doe", received=datetime(2026, 11, 25, tzinfo=UTC).date(),
                                           description="bus", state="MI", actor="officer")
        monkeypatch.setattr(requests_svc, "MAX_ADD", 3)
        monkeypatch.setattr(search_mod, "RANK_LIMIT", 100)
        with pytest.raises(requests_svc.RequestError, match="more than 3 items"):
            requests_svc.add_items(app, opened.id, query="contract*", actor="officer")
        added = requests_svc.add_items(app, opened.id, query="bus", actor="officer")  # three
        assert sorted(added.added) == ["c1", "c5", "p1"]
    finally:
        app.close()
