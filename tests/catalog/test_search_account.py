"""A search within one account reads that account's versions, not the whole archive's matches.

FTS5 can only find a query's matches in the whole archive, and bm25() counts every phrase's
matches in the whole archive: on the synthetic 1,000,000-item archive an account-filtered search
returning 111 items collected 111,000 matches first (issue 10). On SQLite an account-filtered
search now reads the account's own versions through the items' account index; the results are
the same items as FTS5 finds, and the same as PostgreSQL's."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from archiver.catalog import search as search_module
from archiver.catalog.db import Catalog, open_catalog
from archiver.catalog.search import SearchFilters, search
from tests.catalog.search_corpus import seed
from tests.catalog.test_search import CASES
from tests.conftest import _pg_database

ACCOUNTS = ["facebook:1000001", "instagram:1000001", "Lincoln High School"]


def _seed_two_accounts(catalog: Catalog) -> None:
    with catalog.session() as s:
        seed(s, "facebook")
        seed(s, "instagram")  # the same posts under another account: the filter must tell them apart


def _found(catalog: Catalog, query: str, filters: SearchFilters, limit: int = 100) -> list[tuple[str, str]]:
    with catalog.session() as s:
        return sorted((h.platform, h.id) for h in search(s, query, filters, limit=limit).hits)


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory):
    catalog = open_catalog(f"sqlite:///{tmp_path_factory.mktemp('acct') / 'catalog.sqlite'}")
    _seed_two_accounts(catalog)
    yield catalog
    catalog.dispose()


def _with_account(filters: SearchFilters | None, account: str) -> SearchFilters:
    base = filters or SearchFilters()
    return SearchFilters(account=account, platform=None, since=base.since, until=base.until, kind=base.kind,
                         deleted=base.deleted, edited=base.edited, author=base.author)


@pytest.mark.parametrize(("query", "filters", "expected"), [c for c in CASES if not (c[1] and c[1].account)],
                         ids=[c[0] for c in CASES if not (c[1] and c[1].account)])
def test_account_search_finds_the_accounts_items_and_what_fts5_finds(lite, monkeypatch, query: str,
                                                                     filters, expected: set[str]) -> None:
    for account, platforms in (("instagram:1000001", ["instagram"]), ("Lincoln High School", ["facebook", "instagram"])):
        f = _with_account(filters, account)
        found = _found(lite, query, f)
        assert found == sorted((p, i) for p in platforms for i in expected), (query, account)
        with lite.session() as s:
            assert search(s, query, f).total == len(found)
        monkeypatch.setattr(search_module, "ACCOUNT_ROWS_LIMIT", -1)  # the FTS5 path, as for a huge account
        assert _found(lite, query, f) == found, (query, account)
        monkeypatch.undo()


def test_sqlite_and_postgresql_return_the_same_ids_within_an_account(lite) -> None:
    urls = _pg_database()
    pg = open_catalog(next(urls))
    try:
        _seed_two_accounts(pg)
        for query, filters, _ in CASES:
            for account in ACCOUNTS:
                f = _with_account(filters, account)
                assert _found(lite, query, f) == _found(pg, query, f), (query, account)
    finally:
        pg.dispose()
        next(urls, None)


def test_ranking_within_an_account_puts_the_better_match_first_and_keeps_the_best(lite) -> None:
    with lite.session() as s:
        result = search(s, "bus OR contract", SearchFilters(account="facebook:1000001"), limit=2)
        every = search(s, "bus OR contract", SearchFilters(account="facebook:1000001"))
    # p1 and c1 have both words; r1 and c5 one each
    assert result.total == 4 and {h.id for h in result.hits} == {"p1", "c1"}
    assert [h.id for h in every.hits][:2] == result.ids and all(h.platform == "facebook" for h in every.hits)
    assert every.hits[0].score <= every.hits[-1].score


def test_an_account_search_reads_the_accounts_rows_not_the_archives_matches(lite) -> None:
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(lite.engine, "before_cursor_execute", keep)
    try:
        assert _found(lite, "contract* (bus OR track)", SearchFilters(account="facebook:1000001"))
    finally:
        event.remove(lite.engine, "before_cursor_execute", keep)
    assert not [s for s, _ in statements if "search_fts" in s]  # FTS5 finds matches in every account
    with lite.engine.connect() as conn:
        raw = conn.connection.driver_connection.cursor()
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = " | ".join(str(row[-1]) for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))
            for table in ("items", "search_docs", "item_versions"):
                assert f"SCAN {table}" not in plan, (statement, plan)


_WORDS = ["bus", "contract", "the", "concert", "track", "donde", "acme", "1", "555", "e", "kim", "pat"]
_word = st.sampled_from(_WORDS) | st.sampled_from(["bu", "con", "tra", "c", "5"]).map(lambda w: w + "*")
_unit = _word | st.lists(st.sampled_from(_WORDS), min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"')
_query = st.recursive(
    _unit,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda ab: f"{ab[0]} {ab[1]}"),
        st.tuples(inner, inner).map(lambda ab: f"({ab[0]} OR {ab[1]})"),
        st.tuples(inner, _unit).map(lambda ab: f"{ab[0]} -{ab[1]}"),
    ),
    max_leaves=5,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=_query)
def test_the_account_path_finds_exactly_what_fts5_finds(lite, query: str) -> None:
    f = SearchFilters(account="Lincoln High School")
    found = _found(lite, query, f, limit=1000)
    saved = search_module.ACCOUNT_ROWS_LIMIT
    search_module.ACCOUNT_ROWS_LIMIT = -1
    try:
        assert _found(lite, query, f, limit=1000) == found, query
    finally:
        search_module.ACCOUNT_ROWS_LIMIT = saved
