"""SQLite: a filtered search ranks only the filtered matches (issue 15).

The filters are joined inside the FTS5 query, so bm25() is computed only for the matches they
keep (SQLite evaluates result columns only for rows that pass the joins and WHERE), and FTS5
stays the outer loop (never probed a row at a time). The scores are FTS5's own, computed with
the whole index's statistics either way: the same hits, in the same order, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event

from archiver.catalog import search as search_mod
from archiver.catalog.db import Catalog, open_catalog
from archiver.catalog.search import SearchFilters, search
from tests.catalog.search_corpus import seed


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    catalog = open_catalog(f"sqlite:///{tmp_path_factory.mktemp('filtered') / 'catalog.sqlite'}")
    with catalog.session() as s:
        seed(s)
    yield catalog
    catalog.dispose()


def _ranking_plan(catalog: Catalog, query: str, filters: SearchFilters) -> list[tuple[int, int, str]]:
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "bm25(" in statement:
            statements.append((statement, params))

    event.listen(catalog.engine, "before_cursor_execute", record)
    try:
        with catalog.session() as s:
            search(s, query, filters)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", record)
    assert len(statements) == 1, statements
    with catalog.engine.connect() as conn:
        return [(int(r[0]), int(r[1]), str(r[3]))
                for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statements[0][0], statements[0][1])]


def _subtree(plan: list[tuple[int, int, str]], root: int) -> list[str]:
    below = {root}
    for node, parent, _ in plan:  # parents come before their children
        if parent in below:
            below.add(node)
    return [detail for node, _, detail in plan if node in below and node != root]


@pytest.mark.parametrize(("query", "filters"), [
    ("contract", SearchFilters(kind="reply")),
    ("contract OR bus*", SearchFilters(kind="comment", deleted=False, edited=False)),
    ("contract", SearchFilters(account="Lincoln High School", since=date(2020, 1, 1), author="pat")),
], ids=["kind", "kind+deleted+edited", "account+since+author"])
def test_a_filtered_search_ranks_only_the_filtered_matches(catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
                                                            query: str, filters: SearchFilters) -> None:
    monkeypatch.setattr(search_mod, "ACCOUNT_ROWS_LIMIT", 0)  # the account through FTS5, not search1m's path
    monkeypatch.setattr(search_mod, "AUTHOR_ROWS_LIMIT", 0)  # the author's items too many to rank here
    plan = _ranking_plan(catalog, query, filters)
    fts = [(node, parent) for node, parent, detail in plan if detail.startswith("SCAN search_fts")]
    assert len(fts) == 1, plan  # FTS5 read once, its matches in one pass: never probed per row
    assert not [d for _, _, d in plan if "search_fts VIRTUAL TABLE INDEX 0:=" in d], plan
    ranked_in = _subtree(plan, fts[0][1])  # the subquery that computes bm25()
    assert any(d.startswith("SEARCH items") for d in ranked_in), plan  # filtered before it ranks


@pytest.mark.parametrize(("query", "filters"), [
    ("contract", SearchFilters(kind="reply")),
    ("contract OR bus*", SearchFilters(kind="comment")),
    ("contract OR bus* OR concert", SearchFilters(deleted=False, edited=False)),
    ("contract OR bus*", SearchFilters(edited=True)),
    ("the", SearchFilters(author="lincoln")),
    ("contract", SearchFilters(since=date(2099, 1, 1))),
], ids=["reply", "comment", "not-deleted,not-edited", "edited", "author", "no-match"])
def test_filtered_scores_are_the_unfiltered_search_s(catalog: Catalog, query: str, filters: SearchFilters) -> None:
    """The filtered hits are the unfiltered search's hits that pass the filters, with the same
    scores in the same order: FTS5's statistics are the whole index's either way."""
    with catalog.session() as s:
        everything = search(s, query)
        filtered = search(s, query, filters)
        kept = set(r.id for r in search(s, query, filters, limit=1000).hits)
    assert filtered.ranked and everything.ranked
    expected = [(h.id, h.score) for h in everything.hits if h.id in kept]
    assert [(h.id, h.score) for h in filtered.hits] == expected
    assert filtered.total == len(expected)


@pytest.mark.parametrize("filters", [SearchFilters(kind="reply"), SearchFilters(since=date(2099, 1, 1))])
def test_no_ranking_when_the_count_to_the_cap_found_nothing(catalog: Catalog, filters: SearchFilters) -> None:
    """The count to the cap (always run) read every filtered match: none, no ranking query."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        statements.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", record)
    try:
        with catalog.session() as s:
            result = search(s, "concert", filters)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", record)
    assert (result.total, result.ids, result.ranked) == (0, [], True)
    assert statements and not [st for st in statements if "bm25(" in st], statements


@pytest.mark.parametrize("ranker", ["here", "fts5"])
@pytest.mark.parametrize(("query", "filters"), [
    ("contract OR bus* OR señal", SearchFilters(kind="comment", deleted=True)),
    ("contract OR bus* OR señal", SearchFilters(deleted=True)),
    ("contract OR bus*", SearchFilters(author="pat")),
], ids=["deleted comments", "deleted", "author"])
def test_few_filtered_items_are_ranked_without_counting_the_matches(catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
                                                                   query: str, filters: SearchFilters,
                                                                   ranker: str) -> None:
    """When an index finds the filtered items fewer than the cap (the deleted items; a few
    authors' items), the search ranks at once, without counting the matches to the cap: their
    versions scored in Python with FTS5's statistics (only a count of each phrase's rows in
    FTS5; test_search_deleted_rank.py), or, where that path declines, one full-text query, FTS5
    still the outer loop, its matches tested against the items' versions. Either way the same
    hits and scores as the unfiltered search's that pass the filters."""
    if ranker == "fts5":
        monkeypatch.setattr(search_mod, "_ranked_here", lambda *args: None)
    else:
        monkeypatch.setattr(search_mod, "FTS5_MATCHES_PER_ITEM", 0)  # a small corpus: FTS5 is cheaper
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        statements.append((statement, params))

    event.listen(catalog.engine, "before_cursor_execute", record)
    try:
        with catalog.session() as s:
            result = search(s, query, filters)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", record)
    full_text = [(st, p) for st, p in statements if "MATCH" in st]
    with catalog.engine.connect() as conn:
        plans = {st: [str(r[3]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + st, p)] for st, p in statements
                 if st.lstrip().upper().startswith("SELECT") and "count(" in st and "MATCH" not in st}
    if filters.deleted:  # the candidates counted from the deleted items' index, not the items table
        assert any("ix_items_deleted_kind" in d for plan in plans.values() for d in plan), plans
    else:
        assert any("ix_item_versions_author" in d for plan in plans.values() for d in plan), plans
    if ranker == "here":
        assert full_text and all(st.startswith("SELECT count(*) FROM search_fts WHERE search_fts MATCH")
                                 for st, _ in full_text), [st for st, _ in full_text]
    else:
        assert len(full_text) == 1 and "bm25(" in full_text[0][0], [st for st, _ in full_text]  # no count first
        with catalog.engine.connect() as conn:
            ranking = [str(r[3]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + full_text[0][0],
                                                               full_text[0][1])]
        assert len([d for d in ranking if d.startswith("SCAN search_fts")]) == 1, ranking
        assert not [d for d in ranking if "INDEX 0:=" in d], ranking  # never probed a row at a time
    with catalog.session() as s:
        everything = search(s, query, limit=1000)
        kept = set(search(s, query, filters, limit=1000).ids)
    assert result.ranked and kept
    assert [(h.id, h.score) for h in result.hits] == [(h.id, h.score) for h in everything.hits if h.id in kept]
