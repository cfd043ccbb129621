"""The author filter (any version's author, case-insensitive substring), resolved to distinct
author names before the search (issue 15): the same items on SQLite and PostgreSQL, case
folded by Python for any script (SQLite's lower() and LIKE fold ASCII only), through every
path the resolution can take, and no full-text query at all when no name matches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from archiver.catalog import search as search_mod
from archiver.catalog import tables as t
from archiver.catalog.db import Catalog, open_catalog
from archiver.catalog.search import SearchFilters, distinct_authors, search
from tests.catalog.search_corpus import T0, seed
from tests.conftest import _pg_database

# item id, the authors of its versions (oldest first): the filter looks at every version's
EXTRA = [
    ("x1", ["JOSÉ Pérez"]),
    ("x2", ["Straße Verein"]),
    ("x3", ["Board Secretary", "Moderator"]),  # renamed in its second version
    ("x4", ["100% Parent"]),
    ("x5", ["under_score"]),
    ("x6", ["ΣΟΦΙΑ"]),
    ("x7", [""]),
]
QUERY = "newsletter OR bus OR contract OR concert OR señal OR café"
NEEDLES = ["josé", "JOSÉ", "Pérez", "strasse", "STRASSE", "straße", "moderator", "board", "lincoln", "LINCOLN",
           "pat", "100%", "%", "0%", "_", "under_", "σοφια", "σοφία", "ΣΟΦΙΑ", "nobody", "e", " "]


def _add_extra(catalog: Catalog) -> None:
    with catalog.session() as s:
        account = s.query(t.Account).one()
        fresh = []
        for n, (item_id, authors) in enumerate(EXTRA):
            when = T0 + timedelta(days=40 + n)
            item = t.Item(account_pk=account.id, platform=account.platform, item_id=item_id, kind="post",
                          created_at=when, first_seen_at=when, last_seen_at=when)
            s.add(item)
            for v, author in enumerate(authors, start=1):
                version = t.ItemVersion(item=item, version_no=v, content_sha256=f"{item_id}-{v}",
                                        content={}, text=f"The district newsletter, edition {v}", author=author,
                                        observed_at=when, warc_file="x.warc.gz", warc_offset=0, warc_length=1,
                                        warc_record_id=f"<urn:{item_id}:{v}>")
                s.add(version)
                fresh.append(version)
            s.flush()
        search_mod.add_versions(s, fresh)


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Catalog]]:
    pg_url = _pg_database()
    lite = open_catalog(f"sqlite:///{tmp_path_factory.mktemp('author') / 'catalog.sqlite'}")
    pg = open_catalog(next(pg_url))
    try:
        for catalog in (lite, pg):
            with catalog.session() as s:
                seed(s)
            _add_extra(catalog)
        yield lite, pg
    finally:
        lite.dispose()
        pg.dispose()
        next(pg_url, None)


def _expected(catalog: Catalog, needle: str) -> set[str]:
    """Python's own reading of the rule, over every version."""
    with catalog.session() as s:
        everything = set(search(s, QUERY, limit=1000).ids)
        authors: dict[str, list[str]] = {}
        for item_id, author in s.query(t.Item.item_id, t.ItemVersion.author).join(t.ItemVersion.item):
            authors.setdefault(item_id, []).append(author)
    return {i for i in everything if any(needle.casefold() in a.casefold() for a in authors[i])}


@pytest.mark.parametrize("path", ["seek", "scan the index", "names as one array", "per-item check"])
def test_both_engines_find_the_items_of_any_version_s_author_ignoring_case(
        catalogs: tuple[Catalog, Catalog], monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    if path == "scan the index":
        monkeypatch.setattr(search_mod, "AUTHOR_SEEK_LIMIT", 2)  # more names than the seeks list
    elif path == "names as one array":
        monkeypatch.setattr(search_mod, "_NAMES_AS_PARAMETERS", 0)
    elif path == "per-item check":
        monkeypatch.setattr(search_mod, "AUTHOR_ROWS_LIMIT", 0)
    lite, pg = catalogs
    expected = {needle: _expected(lite, needle) for needle in NEEDLES}
    assert expected["josé"] == expected["JOSÉ"] == {"x1"}  # SQLite's lower() alone would miss it
    assert expected["strasse"] == {"x2"} and expected["moderator"] == expected["board"] == {"x3"}
    assert expected["σοφία"] == set() and expected["σοφια"] == {"x6"}  # accents are not folded, case is
    assert expected["%"] == {"x4"} and expected["_"] == {"x5"} and expected["nobody"] == set()
    assert len(expected["e"]) > 5
    for needle in NEEDLES:
        for catalog in (lite, pg):
            with catalog.session() as s:
                result = search(s, QUERY, SearchFilters(author=needle), limit=1000)
            assert set(result.ids) == expected[needle], (catalog.engine.dialect.name, needle)
            assert result.total == len(expected[needle]) and result.filters.as_dict() == {"author": needle}


def test_distinct_authors_are_listed_whole_either_way(catalogs: tuple[Catalog, Catalog],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for catalog in catalogs:
        with catalog.session() as s:
            names = set(s.scalars(t.ItemVersion.__table__.select().with_only_columns(t.ItemVersion.author)))
            assert sorted(distinct_authors(s)) == sorted(names) and "" in names
            monkeypatch.setattr(search_mod, "AUTHOR_SEEK_LIMIT", 3)
            assert sorted(distinct_authors(s)) == sorted(names)
            monkeypatch.undo()


def test_no_full_text_query_when_no_author_name_matches(catalogs: tuple[Catalog, Catalog]) -> None:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    for catalog in catalogs:
        statements.clear()
        event.listen(catalog.engine, "before_cursor_execute", record)
        try:
            with catalog.session() as s:
                result = search(s, QUERY, SearchFilters(author="nobody", kind="comment"))
        finally:
            event.remove(catalog.engine, "before_cursor_execute", record)
        assert (result.total, result.ids, result.ranked) == (0, [], True)
        assert statements and not [st for st in statements if "MATCH" in st or "@@" in st], statements
