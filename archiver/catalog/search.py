"""Full-text search over every version of every item: one interface, two engines.

SQLite (the embedded default) answers with FTS5 and bm25; PostgreSQL with a GIN index on
to_tsvector('simple', body) and ts_rank_cd. Both index the same words (search_text.index_body)
and receive the same parsed query, so they find the same items; only the scores differ.
Which versions matched, the highlights and the thread context are worked out here in Python
from the catalog rows, so they are identical on both engines.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    column,
    delete,
    exists,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from archiver.catalog import tables as t
from archiver.catalog.search_tables import FTS5_TABLE, PG_VECTOR, SearchDoc
from archiver.catalog.search_text import (
    And,
    Node,
    Not,
    Or,
    Term,
    highlight_spans,
    index_body,
    parse_query,
    terms,
    to_fts5,
    to_tsquery,
    words_with_spans,
)

KINDS = ("post", "comment", "reply", "media", "profile")
_FTS = table(FTS5_TABLE, column("rowid"))


@dataclass(frozen=True)
class SearchFilters:
    account: str | None = None  # account id, platform:id or name
    platform: str | None = None
    since: date | None = None  # created (or first seen) on or after
    until: date | None = None  # created (or first seen) on or before
    kind: str | None = None
    deleted: bool | None = None
    edited: bool | None = None
    author: str | None = None  # any version's author, case-insensitive substring

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, date) else v)
                for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class ThreadEntry:
    id: str
    kind: str
    author: str
    text: str
    deleted: bool


@dataclass(frozen=True)
class SearchHit:
    id: str
    platform: str
    account: str
    kind: str
    author: str
    created_at: str | None
    deleted: bool
    versions: int
    matched_versions: tuple[int, ...]  # version numbers whose words match
    version: int  # the version shown: the newest that matched
    text: str
    highlights: tuple[tuple[int, int], ...]  # spans of `text`
    score: float
    context: tuple[ThreadEntry, ...] = ()  # root post first, then down to the direct parent

    @property
    def matched_only_in_old_version(self) -> bool:
        return self.version != self.versions

    def marked(self, before: str = "[", after: str = "]") -> str:
        out, pos = [], 0
        for start, end in self.highlights:
            out += [self.text[pos:start], before, self.text[start:end], after]
            pos = end
        out.append(self.text[pos:])
        return "".join(out)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["highlights"] = [list(span) for span in self.highlights]
        data["marked"] = self.marked()
        return data


@dataclass(frozen=True)
class SearchResult:
    query: str
    filters: SearchFilters
    total: int  # matching items, before the limit (when not ranked: the cap + 1, "more than")
    hits: tuple[SearchHit, ...] = field(default=())
    ranked: bool = True  # False: more than `cap` items match, and the hits are the newest
    cap: int | None = None

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    @property
    def total_text(self) -> str:
        """"42", or "more than 10,000" when the matches were too many to rank."""
        return f"{self.total:,}" if self.ranked else f"more than {self.cap or 0:,}"

    @property
    def note(self) -> str:
        """What an officer is told when the hits are the newest matches, not the best ones."""
        if self.ranked:
            return ""
        return (f"More than {self.cap or 0:,} matches: newest first. Narrow the search "
                "(account, dates, phrase) to rank by relevance.")

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"query": self.query, "filters": self.filters.as_dict(),
                                "total": self.total if self.ranked else self.total_text,
                                "ranked": self.ranked, "order": "relevance" if self.ranked else "newest"}
        if not self.ranked:
            data["more_than"] = self.cap
            data["note"] = self.note
        data["hits"] = [h.as_dict() for h in self.hits]
        return data


# --- keeping the index ----------------------------------------------------------------------


def add_versions(session: Session, versions: Iterable[t.ItemVersion]) -> int:
    """Index new versions (the indexer calls this after its flush)."""
    rows = [{"version_pk": v.id, "item_pk": v.item_pk, "body": index_body(v.text or "")}
            for v in versions]
    if rows:
        session.execute(insert(SearchDoc), rows)
    return len(rows)


def add_version_rows(session: Session, versions: Iterable[tuple[int, int, str]]) -> int:
    """Index new versions given as (version id, item id, text): the indexer's bulk path."""
    rows = [{"version_pk": pk, "item_pk": item_pk, "body": index_body(body)} for pk, item_pk, body in versions]
    if rows:
        session.execute(insert(SearchDoc), rows)
    return len(rows)


def reindex_all(conn: Connection | Session, batch: int = 5000) -> int:
    """Recreate every search row from item_versions (migration, repair)."""
    conn.execute(delete(SearchDoc))
    last, count = 0, 0
    while True:
        rows = conn.execute(
            select(t.ItemVersion.id, t.ItemVersion.item_pk, t.ItemVersion.text)
            .where(t.ItemVersion.id > last).order_by(t.ItemVersion.id).limit(batch)
        ).all()
        if not rows:
            return count
        conn.execute(insert(SearchDoc), [
            {"version_pk": pk, "item_pk": item_pk, "body": index_body(body or "")}
            for pk, item_pk, body in rows
        ])
        last, count = rows[-1][0], count + len(rows)


# --- searching ------------------------------------------------------------------------------


def _filters(query: Any, f: SearchFilters) -> Any:
    if f.account:
        query = query.where(
            (t.Account.account_id == f.account) | (t.Account.name == f.account)
            | ((t.Account.platform + ":" + t.Account.account_id) == f.account)
        )
    if f.platform:
        query = query.where(t.Item.platform == f.platform)
    when = func.coalesce(t.Item.created_at, t.Item.first_seen_at)
    if f.since:
        query = query.where(when >= datetime.combine(f.since, time(), UTC))
    if f.until:
        query = query.where(when < datetime.combine(f.until + timedelta(days=1), time(), UTC))
    if f.kind:
        query = query.where(t.Item.kind == f.kind)
    if f.deleted is not None:
        query = query.where(t.Item.deleted_at.is_not(None) if f.deleted else t.Item.deleted_at.is_(None))
    if f.edited is not None:
        later = exists().where(t.ItemVersion.item_pk == t.Item.id, t.ItemVersion.version_no > 1)
        query = query.where(later if f.edited else ~later)
    if f.author:
        if not isinstance(f, _Resolved):
            raise TypeError("the author filter is resolved first (_resolve)")
        query = query.where(_by_authors(f))
    return query


# --- the author filter ------------------------------------------------------------------------
#
# "Any version's author, case-insensitive substring." Authors are few distinct names against
# many versions, so the filter is resolved before the search: the distinct names are listed by
# skipping through ix_item_versions_author (one seek per name), matched here with
# str.casefold(), and the items are those with a version by a matching name, found through the
# same index. Testing `lower(author) LIKE` on every version of every match of the words cost
# 0.8 s for `comment` + author=nobody at 1,000,000 items; and matching in Python means the same
# names on both engines (SQLite's lower() and LIKE fold ASCII only: "JOSÉ" was not found by
# "josé" there, and was on PostgreSQL).

# Distinct names listed by seeks at most; more names than this and the index is read whole
# (one pass over every version's entry, still no table row).
AUTHOR_SEEK_LIMIT = 5_000
# Up to this many versions by the matching names, their items are one set, built once (an
# ephemeral index on SQLite) and tested per match; more, and each match's item looks up its
# own versions' names (a common name: the set would cost more than it saves).
AUTHOR_ROWS_LIMIT = 50_000
# More names than this are bound as one JSON array (SQLite) or array (PostgreSQL), not one
# parameter each (SQLite allows 32,766 parameters a statement, PostgreSQL 65,535).
_NAMES_AS_PARAMETERS = 1_000


@dataclass(frozen=True)
class _Resolved(SearchFilters):
    """The filters with `author` resolved to the exact author names it stands for (_resolve)."""

    author_names: tuple[str, ...] = ()
    author_rows: int = 0  # versions by those names, counted to AUTHOR_ROWS_LIMIT + 1
    dialect: str = ""

    def as_dict(self) -> dict[str, Any]:
        return SearchFilters(**{k.name: getattr(self, k.name) for k in fields(SearchFilters)}).as_dict()


_SKIP_SCAN = text("""
WITH RECURSIVE names(author, n) AS (
    SELECT (SELECT author FROM item_versions ORDER BY author LIMIT 1), 1
    UNION ALL
    SELECT (SELECT v.author FROM item_versions v WHERE v.author > names.author ORDER BY v.author LIMIT 1), n + 1
    FROM names WHERE names.author IS NOT NULL AND n < :most
)
SELECT author FROM names WHERE author IS NOT NULL
""")


def distinct_authors(session: Session) -> list[str]:
    """Every distinct author name of any version: a loose index scan (each name found by one
    seek past the previous one in ix_item_versions_author) while the names are few, else one
    pass over the index."""
    names = list(session.scalars(_SKIP_SCAN.bindparams(most=AUTHOR_SEEK_LIMIT)))
    if len(names) < AUTHOR_SEEK_LIMIT:
        return names
    return list(session.scalars(select(t.ItemVersion.author).distinct()))


def _names_in(col: Any, names: Sequence[str], dialect: str) -> ColumnElement[bool]:
    if len(names) <= _NAMES_AS_PARAMETERS:
        return col.in_(names)
    if dialect == "sqlite":
        listed: Select[Any] = select(literal_column("value")).select_from(
            func.json_each(bindparam("author_names", json.dumps(list(names)), type_=Text)))
        return col.in_(listed)
    # Imported here, on PostgreSQL only: the dialect's package costs SQLite 0.05 s of start-up.
    from sqlalchemy.dialects.postgresql import ARRAY

    return col == any_(bindparam("author_names", list(names), type_=ARRAY(Text)))


def _by_authors(f: _Resolved) -> ColumnElement[bool]:
    """The item has a version by one of the resolved names."""
    if not f.author_names:
        return false()
    v = aliased(t.ItemVersion)
    names = _names_in(v.author, f.author_names, f.dialect)
    if f.author_rows <= AUTHOR_ROWS_LIMIT:
        return t.Item.id.in_(select(v.item_pk).where(names))
    return exists().where(v.item_pk == t.Item.id, names)


def _resolve(session: Session, f: SearchFilters) -> SearchFilters:
    """`f` with its author filter resolved to names (unchanged without one)."""
    if not f.author or isinstance(f, _Resolved):
        return f
    needle = f.author.casefold()
    names = tuple(name for name in distinct_authors(session) if needle in name.casefold())
    dialect = session.get_bind().dialect.name
    rows = 0
    if names:
        probe = select(t.ItemVersion.id).where(_names_in(t.ItemVersion.author, names, dialect))
        rows = session.scalar(select(func.count()).select_from(
            probe.limit(AUTHOR_ROWS_LIMIT + 1).subquery())) or 0
    return _Resolved(**{k.name: getattr(f, k.name) for k in fields(SearchFilters)},
                     author_names=names, author_rows=rows, dialect=dialect)


def _nothing_passes(f: SearchFilters) -> bool:
    return isinstance(f, _Resolved) and bool(f.author) and not f.author_names


# An account-filtered search on SQLite reads the account's own versions (through the items'
# account index) and matches and ranks them here, when the account has at most this many items.
# FTS5 can only find a query's matches in the whole archive (on the 1,000,000-item synthetic
# archive, 111,000 of them for 111 in the account) and its bm25() counts each phrase's matches in
# the whole archive again, so its cost grows with the archive; this path's grows with the account
# (about 10 us of CPU per version, against about 3 us per archive-wide match for FTS5), so a
# 10,000-item account costs about 0.1 s at any archive size. Larger accounts go through FTS5.
# Measured in docs/benchmarks.md ("Search within an account at 1,000,000 items").
ACCOUNT_ROWS_LIMIT = 10_000
_K1, _B = 1.2, 0.75  # FTS5's bm25() constants


def _accounts(session: Session, selector: str) -> list[int]:
    return list(session.scalars(select(t.Account.id).where(
        (t.Account.account_id == selector) | (t.Account.name == selector)
        | ((t.Account.platform + ":" + t.Account.account_id) == selector))))


def _leaves(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return _leaves(node.node)
    return [leaf for part in node.parts for leaf in _leaves(part)]


def _occurrences(term: Term, words: Sequence[str], body: str) -> int:
    """How often the term occurs in a version's words (`body`: the same words, space-joined)."""
    first, last, n = term.words[0], term.words[-1], len(term.words)
    if not (body.startswith(first) or f" {first}" in body):  # most versions: one substring search
        return 0
    if n == 1:
        if term.prefix:
            return sum(1 for w in words if w.startswith(first))
        return words.count(first)
    found = 0
    for i in range(len(words) - n + 1):
        if words[i] == first and all(words[i + k] == term.words[k] for k in range(1, n - 1)):
            tail = words[i + n - 1]
            found += tail.startswith(last) if term.prefix else tail == last
    return found


def _compile(node: Node, slot: dict[Term, int]) -> Callable[[list[int]], bool]:
    """The query as a test on a version's term counts (tf[slot[term]]), as FTS5 evaluates it."""
    if isinstance(node, Term):
        i = slot[node]
        return lambda tf: tf[i] > 0
    if isinstance(node, Not):
        inner = _compile(node.node, slot)
        return lambda tf: not inner(tf)
    parts = [_compile(p, slot) for p in node.parts]
    if isinstance(node, And):
        return lambda tf: all(p(tf) for p in parts)
    return lambda tf: any(p(tf) for p in parts)


def _ranked_in_accounts(session: Session, node: Node, f: SearchFilters, accounts: list[int],
                        limit: int) -> tuple[list[tuple[int, float]], int]:
    """The query over the accounts' versions (after the other filters): the same matches as
    FTS5 (the same words, the same syntax tree), ranked by bm25 as FTS5 computes it, with the
    accounts' versions as the collection (FTS5 would count the whole archive's)."""
    rows = session.execute(_filters(
        select(SearchDoc.item_pk, SearchDoc.body, t.Item.item_id)
        .join(t.Item, t.Item.id == SearchDoc.item_pk).where(t.Item.account_pk.in_(accounts)),
        replace(f, account=None))).all()
    if not rows:
        return [], 0
    leaves = list(dict.fromkeys(_leaves(node)))
    slot = {leaf: i for i, leaf in enumerate(leaves)}
    matches = _compile(node, slot)
    positive = [slot[term] for term in terms(node)]  # bm25 sums over the query's phrases
    docs: list[tuple[int, str, int, list[int]]] = []
    total_words = 0
    for item_pk, body, item_id in rows:
        words = body.split()
        total_words += len(words)
        docs.append((item_pk, item_id, len(words), [_occurrences(leaf, words, body) for leaf in leaves]))
    n_docs = len(docs)
    avgdl = (total_words / n_docs) or 1.0
    idf = [0.0] * len(leaves)
    for i in set(positive):
        having = sum(1 for d in docs if d[3][i])
        idf[i] = max(math.log((n_docs - having + 0.5) / (having + 0.5)), 1e-6)
    best: dict[int, tuple[float, str]] = {}
    for item_pk, item_id, length, tf in docs:
        if not matches(tf):
            continue
        norm = _K1 * (1 - _B + _B * length / avgdl)
        score = -sum(idf[i] * tf[i] * (_K1 + 1) / (tf[i] + norm) for i in positive if tf[i])
        if item_pk not in best or score < best[item_pk][0]:
            best[item_pk] = (score, item_id)
    ranked = sorted(best.items(), key=lambda kv: (kv[1][0], kv[1][1]))[:limit]
    return [(pk, score) for pk, (score, _) in ranked], len(best)


def _filtered_fts_rows(fts_rows: Any, f: SearchFilters) -> Any:
    """The FTS5 query joined to the versions' items and filtered, FTS5 kept as the outer loop:
    `+search_fts.rowid` is no column FTS5 could be asked for, so SQLite cannot probe FTS5 a
    row at a time (MATCH again for every probed row, and bm25's statistics with it: minutes on
    the 1,000,000-item archive), and reads the matches, two primary-key lookups each
    (search_docs, items)."""
    fts_rows = (fts_rows.join(SearchDoc, SearchDoc.version_pk == literal_column("+search_fts.rowid"))
                .join(t.Item, t.Item.id == SearchDoc.item_pk))
    if f.account:
        fts_rows = fts_rows.join(t.Account, t.Account.id == t.Item.account_pk)
    return _filters(fts_rows, f)


def _within(fts_rows: Any, items: Select[Any]) -> Any:
    """The FTS5 query kept to the versions of `items` (a few thousand, found through an index),
    when _ranked_here declines: each match tested against one small in-memory list of version
    ids, where the joins read two primary keys (search_docs, items) per match; still FTS5 as
    the outer loop (`+`, as above)."""
    doc = aliased(SearchDoc)
    return fts_rows.where(literal_column("+search_fts.rowid").in_(
        select(doc.version_pk).where(doc.item_pk.in_(items))))


# --- a few filtered items ranked here with FTS5's statistics ------------------------------------
#
# When _candidates finds the filtered items few (the deleted items, a few authors' items), their
# versions are read (through the items' indexes) and matched and scored here, with the numbers
# FTS5's bm25() itself uses (sqlite ext/fts5/fts5_aux.c, fts5Bm25Function): the index's row count
# and total tokens from its "averages" record, and each phrase's matching rows in the whole index
# (one count(*) MATCH of that phrase, as bm25's own xQueryPhrase counts them). Same scores, bit for
# bit, as FTS5's, so the same hits in the same order; but FTS5 no longer walks every archive-wide
# match of the words and tests it against the items' versions (`comment` + deleted at 1,000,000
# items: 698,000 matches walked for 10,000 kept; a count of a word's matches walks them in C without
# computing bm25 or testing a list, a few times faster).

_AVERAGES = text(f"SELECT block FROM {FTS5_TABLE}_data WHERE id = 1")
_PHRASE_ROWS = text(f"SELECT count(*) FROM {FTS5_TABLE} WHERE {FTS5_TABLE} MATCH :q")


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """An SQLite varint (FTS5's too): 7 bits a byte, high bit set while more follow, the ninth
    byte whole."""
    value = 0
    for _ in range(8):
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at
    return (value << 8) | data[at], at + 1


def _fts5_totals(session: Session) -> tuple[int, int] | None:
    """The FTS5 index's row count and total tokens, as bm25() reads them (xRowCount,
    xColumnTotalSize): its averages record, varints nRow then one total per column (one column
    here). None when there is none, or while this connection has uncommitted writes (FTS5 may
    hold its totals in memory until the transaction's end)."""
    dbapi = session.connection().connection.dbapi_connection
    if getattr(dbapi, "in_transaction", True):
        return None
    block = session.scalar(_AVERAGES)
    if not block:
        return None
    rows, at = _varint(block, 0)
    tokens, _ = _varint(block, at)
    return (rows, tokens) if rows > 0 else None


def _nodes(node: Node) -> Iterable[Node]:
    yield node
    if isinstance(node, Not):
        yield from _nodes(node.node)
    elif not isinstance(node, Term):
        for part in node.parts:
            yield from _nodes(part)


def _ranks_alike(node: Node) -> bool:
    """Whether FTS5 counts a row's phrases as _fts5_phrases does: those whose every enclosing
    node matches the row. Two shapes make FTS5's counts depend on the rows before (fts5_expr.c),
    and keep FTS5's own ranking:
    - an excluded term under an OR: a NOT whose left side is used up leaves its right side on a
      row that an OR's other branch may match (SQLite 3.40 empties that phrase's positions
      there, checked by hand; the result rests on that detail of fts5ExprNodeTest_NOT);
    - an OR and a phrase of several words: an AND (not the root) that stops on a row where its
      phrase's words are present but apart empties the position lists of every phrase below it,
      also of an OR's branch already positioned on a later row, which then counts nothing there."""
    def has_not_under_or(n: Node, under_or: bool) -> bool:
        if isinstance(n, Term):
            return False
        if isinstance(n, Not):
            return under_or
        return any(has_not_under_or(part, under_or or isinstance(n, Or)) for part in n.parts)

    every = list(_nodes(node))
    phrase_and_or = (any(isinstance(n, Or) for n in every)
                     and any(isinstance(n, Term) and len(n.words) > 1 for n in every))
    return not phrase_and_or and not has_not_under_or(node, False)


_Live = Callable[[list[int]], list[int] | None]


def _fts5_phrases(node: Node, slot: dict[Term, int]) -> tuple[list[Term], _Live]:
    """The query's phrases in FTS5's order (to_fts5's text order: an AND's terms, then its
    excluded ones), and a test of a version's term counts that gives, when it matches, the
    phrases bm25() counts in it: those whose every enclosing node matches (an OR's branch that
    does not match counts nothing, even if some of its words occur), as FTS5's phrase position
    lists are set only for the nodes positioned on the row."""
    phrases: list[Term] = []

    def build(n: Node) -> _Live:
        if isinstance(n, Term):
            at, i = len(phrases), slot[n]
            phrases.append(n)
            return lambda tf: [at] if tf[i] else None
        if isinstance(n, Or):
            branches = [build(part) for part in n.parts]

            def any_of(tf: list[int]) -> list[int] | None:
                live: list[int] | None = None
                for branch in branches:
                    got = branch(tf)
                    if got is not None:
                        live = got if live is None else live + got
                return live
            return any_of
        assert isinstance(n, And), n  # a Not is only ever a part of an And (parse_query)
        wanted = [build(part) for part in n.parts if not isinstance(part, Not)]
        excluded = [build(part.node) for part in n.parts if isinstance(part, Not)]

        def all_of(tf: list[int]) -> list[int] | None:
            live: list[int] = []
            for part in wanted:
                got = part(tf)
                if got is None:
                    return None
                live += got
            if any(part(tf) is not None for part in excluded):
                return None
            return live
        return all_of

    return phrases, build(node)


def _idf(rows: int, hits: int) -> float:
    """bm25's IDF, as fts5Bm25GetData computes it (in C doubles: the same value here)."""
    idf = math.log((rows - hits + 0.5) / (hits + 0.5))
    return idf if idf > 0.0 else 1e-6


# Ranking here costs about 5 us of CPU per filtered item (reading its versions through two
# indexes, matching and scoring them in Python), FTS5's filtered scan about 0.13-0.2 us per
# archive-wide match of the words (measured on the 1,000,000-item synthetic archive: `post` among
# 10,000 deleted items, 334,000 matches, 44 ms in FTS5 against 54 here; `comment`, 698,000
# matches, 140 against 77). So the items are ranked here only when the words match more rows than
# this many per filtered item; a rare word stays with FTS5 (a few ms).
FTS5_MATCHES_PER_ITEM = 35


def _ranked_here(session: Session, node: Node, within: Select[Any], candidates: int,
                 limit: int) -> tuple[list[tuple[int, float]], int] | None:
    """The best `limit` of the `within` items (`candidates` of them, found through an index) and
    how many match, scored here exactly as FTS5's bm25() would score them; None when FTS5 ranks
    them instead: it is cheaper (the words match few rows), or its statistics cannot be read (a
    write under way), or the query's shape is one _ranks_alike declines."""
    if not _ranks_alike(node):
        return None
    totals = _fts5_totals(session)
    if totals is None:
        return None
    n_rows, n_tokens = totals
    # bm25's IDF needs each phrase's matching rows in the whole index, FTS5's walk costs about
    # as many steps: one count each (a walk of the phrase's doclist in C), counted here first.
    hits = {term: int(session.scalar(_PHRASE_ROWS.bindparams(q=to_fts5(term))) or 0)
            for term in dict.fromkeys(terms(node))}
    if sum(hits.values()) <= FTS5_MATCHES_PER_ITEM * candidates:
        return None
    idf = {term: _idf(n_rows, n) for term, n in hits.items()}
    avgdl = float(n_tokens) / float(n_rows)
    leaves = list(dict.fromkeys(_leaves(node)))
    slot = {leaf: i for i, leaf in enumerate(leaves)}
    phrases, live_in = _fts5_phrases(node, slot)
    phrase_slot = [slot[p] for p in phrases]
    # Scored as they are read, keeping two flat dicts: holding every row and its counts until
    # the end made Python's cyclic GC run a full collection in most searches (+50 ms at 10,000).
    k1_1, b_0 = _K1 + 1.0, 1 - _B
    best: dict[int, float] = {}
    names: dict[int, str] = {}
    # The items as an IN list: SQLite then reads them through their index and each one's
    # versions through ix_search_docs_item_pk (a plain join scanned all of search_docs for the
    # deleted items of every kind: 130 ms at 1,000,000 items, against 30).
    rows = session.execute(select(t.Item.id, t.Item.item_id, SearchDoc.body)
                           .join(SearchDoc, SearchDoc.item_pk == t.Item.id)
                           .where(t.Item.id.in_(within.correlate(None))))
    for item_pk, item_id, body in rows:
        words = body.split()
        tf = [_occurrences(leaf, words, body) for leaf in leaves]
        live = live_in(tf)
        if live is None:
            continue
        norm = _K1 * (b_0 + _B * float(len(words)) / avgdl)
        score = 0.0
        for at in live:  # bm25's sum in phrase order (the others add 0.0: no change to a sum)
            freq = float(tf[phrase_slot[at]])
            score += idf[phrases[at]] * ((freq * k1_1) / (freq + norm))
        score = -1.0 * score
        if item_pk not in best or score < best[item_pk]:
            best[item_pk] = score
            names[item_pk] = item_id
    top = heapq.nsmallest(limit, best, key=lambda pk: (best[pk], names[pk]))
    return [(pk, best[pk]) for pk in top], len(best)


def _ranked(session: Session, node: Node, f: SearchFilters, limit: int,
            within: Select[Any] | None = None, candidates: int = 0) -> tuple[list[tuple[int, float]], int]:
    """The best `limit` items and how many match. `within`: the items that pass the filters,
    when _candidates found them few (SQLite then ranks their versions here with FTS5's
    statistics, _ranked_here, or else tests FTS5's matches against their versions)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and f.account:
        accounts = _accounts(session, f.account)
        if not accounts:
            return [], 0
        size = session.scalar(select(func.count()).select_from(t.Item).where(t.Item.account_pk.in_(accounts)))
        if (size or 0) <= ACCOUNT_ROWS_LIMIT:
            return _ranked_in_accounts(session, node, f, accounts, limit)
    if dialect == "sqlite" and within is not None:
        here = _ranked_here(session, node, within, candidates, limit)
        if here is not None:
            return here
    score: ColumnElement[Any]
    if dialect == "sqlite":
        # bm25() only works in the FTS query itself, not under GROUP BY: rank in a subquery
        fts_rows = (
            select(_FTS.c.rowid.label("version_pk"), literal_column("bm25(search_fts)").label("rank"))
            .where(text("search_fts MATCH :q").bindparams(q=to_fts5(node)))
        )
        if f != SearchFilters():
            # The filters inside the FTS query: SQLite computes the result columns (bm25) only
            # for the rows that pass its joins and WHERE, so only the filtered matches are ranked, where
            # filtering after the subquery ranked every archive-wide match first (`comment` +
            # kind=reply at 1M: 698,666 bm25 calls for no result). The scores are FTS5's own
            # (its statistics are the whole index's either way): the same hits, the same order.
            fts_rows = (_within(fts_rows.select_from(_FTS), within) if within is not None
                        else _filtered_fts_rows(fts_rows.select_from(_FTS), f))
        matched = (
            fts_rows
            .limit(-1)  # a LIMIT keeps SQLite from flattening the subquery into the GROUP BY
            .subquery()
        )
        score = func.min(matched.c.rank)
        base = (
            select(SearchDoc.item_pk)
            .join(matched, matched.c.version_pk == SearchDoc.version_pk)
            .join(t.Item, t.Item.id == SearchDoc.item_pk)
            .join(t.Account, t.Account.id == t.Item.account_pk)
        )
        order = [score.asc()]
    else:
        tsq, vector = _pg_tsquery(node)
        score = func.max(func.ts_rank_cd(vector, tsq))
        base = (
            select(SearchDoc.item_pk)
            .join(t.Item, t.Item.id == SearchDoc.item_pk)
            .join(t.Account, t.Account.id == t.Item.account_pk)
            .where(vector.op("@@")(tsq))
        )
        order = [score.desc()]
    base = _filters(base, f)
    # count(*) OVER () runs after GROUP BY: the number of matching items, in the same pass.
    ranked = (
        base.add_columns(score.label("score"), func.count().over().label("total"))
        .group_by(SearchDoc.item_pk, t.Item.item_id)
        .order_by(*order, t.Item.item_id)
        .limit(limit)
    )
    rows, total = [], 0
    for pk, s, n in session.execute(ranked):
        rows.append((pk, float(s or 0.0)))
        total = int(n)
    return rows, total


def _pg_tsquery(node: Node, name: str = "tsq") -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The compiled query and the stored, GIN-indexed vector it is tested against.

    to_tsquery, not a cast: PostgreSQL's parser splits a few of our words (3e9abc is a float
    then a word) and must split the query's words the same way."""
    tsq = func.to_tsquery(literal_column("'simple'"), bindparam(name, to_tsquery(node), type_=Text))
    vector: ColumnElement[Any] = literal_column(f"{SearchDoc.__tablename__}.{PG_VECTOR}")
    return tsq, vector


def _matching_docs(session: Session, node: Node) -> Select[Any]:
    """The item of every search row (version) that matches, from the full-text index."""
    if session.get_bind().dialect.name == "sqlite":
        return (select(SearchDoc.item_pk).join(_FTS, _FTS.c.rowid == SearchDoc.version_pk)
                .where(text("search_fts MATCH :q").bindparams(q=to_fts5(node))))
    tsq, vector = _pg_tsquery(node)
    return select(SearchDoc.item_pk).where(vector.op("@@")(tsq))


# A query (with its filters) that finds more items than this is not ranked: ranking reads and
# scores every match (on the 1,000,000-item synthetic archive a word in two thirds of the items
# took 3.1-4.3 s on SQLite and 1.9-2.1 s on PostgreSQL), and a best-50 page out of hundreds of
# thousands tells an officer little. Such a search shows the newest matches instead (created
# time, then id: the same on both engines), found by walking the items' created-time index and
# testing each item against the query, and says so; counting to the cap first reads at most
# RANK_LIMIT + 1 matches. 10,000 is also the most `requests add --query` attaches (MAX_ADD).
# Measured in docs/benchmarks.md ("Search over the ranking cap at 1,000,000 items").
RANK_LIMIT = 10_000


def _pg_match_exists(node: Node) -> ColumnElement[bool]:
    """Any version of the (outer query's) item matches: its search rows, tested on their vector."""
    tsq, vector = _pg_tsquery(node, "cap_tsq")
    return exists().where(SearchDoc.item_pk == t.Item.id, vector.op("@@")(tsq))


def _more_than(session: Session, node: Node, f: SearchFilters, accounts: list[int] | None,
               cap: int) -> int | None:
    """How many items match (with the filters), counted to cap + 1 at most (more than `cap`
    when it returns cap + 1); None when the account is too small to need counting."""
    if accounts is not None:
        size = session.scalar(select(func.count()).select_from(t.Item).where(t.Item.account_pk.in_(accounts)))
        if (size or 0) <= cap:
            return None  # the account's items are too few: no need to look
    base = _matching_docs(session, node).join(t.Item, t.Item.id == SearchDoc.item_pk)
    if accounts is not None:
        base = base.where(t.Item.account_pk.in_(accounts))
    probe = _filters(base, replace(f, account=None)).distinct().limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(probe)) or 0


# The newest-first walk reads at most this many items (after the filters) before giving up on
# the index: a query whose matches are all old (a word of 2020 searched in 2026) would otherwise
# walk the whole archive. Then the matches are listed from the full-text index and sorted, a cost
# that grows with the matches, not the archive.
WALK_LIMIT = 50_000


def _newest(session: Session, node: Node, f: SearchFilters, accounts: list[int] | None,
            limit: int) -> list[int]:
    """The newest `limit` matching items (created time, then id, newest first; items without a
    created time after them, newest id first), walking the created-time index."""
    rest = replace(f, account=None, since=None, until=None)
    dated = select(t.Item.id).where(t.Item.created_at.is_not(None))
    undated = select(t.Item.id).where(t.Item.created_at.is_(None))
    if accounts is not None:
        dated = dated.where(t.Item.account_pk.in_(accounts))
        undated = undated.where(t.Item.account_pk.in_(accounts))
    # With a created time, _filters' coalesce(created_at, first_seen_at) is created_at: a range
    # on the index.
    if f.since:
        dated = dated.where(t.Item.created_at >= datetime.combine(f.since, time(), UTC))
    if f.until:
        dated = dated.where(t.Item.created_at < datetime.combine(f.until + timedelta(days=1), time(), UTC))
    if session.get_bind().dialect.name == "sqlite":
        walks = [_filters(dated, rest).order_by(t.Item.created_at.desc(), t.Item.id.desc()),
                 _filters(undated, replace(f, account=None)).order_by(t.Item.id.desc())]
        found = _newest_sqlite(session, node, walks, limit)
    else:
        found = _newest_pg(session, node, f, dated, undated, limit)
    if found is None:
        return _newest_of_all(session, node, f, accounts, limit)
    return found


def _newest_pg(session: Session, node: Node, f: SearchFilters, dated: Any, undated: Any,
               limit: int) -> list[int] | None:
    """PostgreSQL tests each walked item's stored vectors (one index probe per item), within
    the first WALK_LIMIT index entries (bounded by the WALK_LIMIT-th entry's key); None if
    those held too few matches."""
    rest, match = replace(f, account=None, since=None, until=None), _pg_match_exists(node)
    pks: list[int] = []
    for walk, order, key in (
            (dated, (t.Item.created_at.desc(), t.Item.id.desc()), (t.Item.created_at, t.Item.id)),
            (undated, (t.Item.id.desc(),), (t.Item.id,))):
        if len(pks) >= limit:
            break
        bound = session.execute(walk.with_only_columns(*key).order_by(*order)
                                .offset(WALK_LIMIT).limit(1)).first()
        walk = _filters(walk, replace(f, account=None) if walk is undated else rest)
        if bound is not None:
            walk = walk.where(tuple_(*key) >= tuple_(*bound))
        pks += session.scalars(walk.where(match).order_by(*order).limit(limit - len(pks)))
        if len(pks) < limit and bound is not None:
            return None
    return pks


def _newest_of_all(session: Session, node: Node, f: SearchFilters, accounts: list[int] | None,
                   limit: int) -> list[int]:
    """Every match listed from the full-text index, filtered, the newest `limit` kept."""
    query = select(t.Item.id).where(t.Item.id.in_(_matching_docs(session, node)))
    if accounts is not None:
        query = query.where(t.Item.account_pk.in_(accounts))
    query = _filters(query, replace(f, account=None))
    return list(session.scalars(query.order_by(t.Item.created_at.desc().nulls_last(), t.Item.id.desc())
                                .limit(limit)))


def _newest_sqlite(session: Session, node: Node, walks: list[Any], limit: int) -> list[int] | None:
    """SQLite: read the walked items' search rows a batch at a time and test them here, as the
    account path does (_compile: the same matches as FTS5). FTS5 can test one rowid
    (`rowid = ? AND MATCH`), but it expands a prefix term (5*) again for every row: on the
    1,000,000-item archive 25 ms a row, where this costs about 10 us a version."""
    leaves = list(dict.fromkeys(_leaves(node)))
    slot = {leaf: i for i, leaf in enumerate(leaves)}
    matches = _compile(node, slot)
    found: list[int] = []
    walked = 0
    for walk in walks:
        batch = max(2 * (limit - len(found)), 200)
        offset = 0
        while len(found) < limit:
            # LIMIT/OFFSET on the index walk: each batch re-reads the skipped index entries only.
            if walked >= WALK_LIMIT:
                return None  # too few matches among the newest items: list them all instead
            asked = min(batch, WALK_LIMIT - walked)
            pks = list(session.scalars(walk.limit(asked).offset(offset)))
            if not pks:
                break
            walked += len(pks)
            hits: set[int] = set()
            for item_pk, body in session.execute(
                    select(SearchDoc.item_pk, SearchDoc.body).where(SearchDoc.item_pk.in_(pks))):
                if item_pk not in hits:
                    words = body.split()
                    if matches([_occurrences(leaf, words, body) for leaf in leaves]):
                        hits.add(item_pk)
            found += [pk for pk in pks if pk in hits][:limit - len(found)]
            if len(pks) < asked:
                break  # the end of the walk
            offset += len(pks)
            batch = min(batch * 4, 20_000)
    return found


def _matches(node: Node, words: Sequence[str]) -> bool:
    if isinstance(node, Term):
        n = len(node.words)
        for i in range(len(words) - n + 1):
            if all(words[i + k] == node.words[k] for k in range(n - 1)):
                last = words[i + n - 1]
                if last.startswith(node.words[-1]) if node.prefix else last == node.words[-1]:
                    return True
        return False
    if isinstance(node, Not):
        return not _matches(node.node, words)
    if isinstance(node, And):
        return all(_matches(p, words) for p in node.parts)
    assert isinstance(node, Or)
    return any(_matches(p, words) for p in node.parts)


def matching_items(session: Session, query: str, filters: SearchFilters | None = None) -> list[tuple[str, str]]:
    """Every item (platform, item_id) a query finds, unranked order aside: what a hold by
    query freezes, so it must never stop at a page of results."""
    f = _resolve(session, filters or SearchFilters())
    if _nothing_passes(f):
        return []
    node = parse_query(query)
    _, total = _ranked(session, node, f, 1)
    if not total:
        return []
    ranked, _ = _ranked(session, node, f, total)
    pks = [pk for pk, _ in ranked]
    found: list[tuple[str, str]] = []
    for start in range(0, len(pks), 5000):
        found += [(p, i) for p, i in session.execute(
            select(t.Item.platform, t.Item.item_id).where(t.Item.id.in_(pks[start:start + 5000])))]
    return sorted(set(found))


def _candidates(session: Session, f: SearchFilters, accounts: list[int] | None,
                cap: int) -> tuple[Select[Any] | None, int | None]:
    """The items that pass the filters (the words aside) and how many, counted to cap + 1, when an index
    finds them without reading the items at large: the deleted items (ix_items_deleted_kind,
    about 1% of an archive) or the items of a few authors' versions (ix_item_versions_author);
    (None, None) when no filter is that selective. At most `cap` of them: the matches are no
    more, so the search ranks without counting the words' archive-wide matches to the cap first,
    and on SQLite ranks those items' versions itself (_ranked_here)."""
    few_authors = isinstance(f, _Resolved) and bool(f.author) and f.author_rows <= AUTHOR_ROWS_LIMIT
    if f.deleted is not True and not few_authors:
        return None, None
    items = select(t.Item.id)
    if accounts is not None:
        items = items.where(t.Item.account_pk.in_(accounts))
    items = _filters(items, replace(f, account=None))
    return items, session.scalar(select(func.count()).select_from(items.limit(cap + 1).subquery())) or 0


def search(session: Session, query: str, filters: SearchFilters | None = None,
           *, limit: int = 100, rank_limit: int | None = None) -> SearchResult:
    """Items whose any version matches `query`, best first, with context and highlights; when
    more than `rank_limit` (default RANK_LIMIT) items match, the newest first, unranked."""
    asked = filters or SearchFilters()
    node = parse_query(query)
    cap = RANK_LIMIT if rank_limit is None else rank_limit
    f = _resolve(session, asked)
    selected = _accounts(session, f.account) if f.account else None
    if selected == [] or _nothing_passes(f):
        return SearchResult(query, asked, 0, (), cap=cap)
    within, candidates = _candidates(session, f, selected, cap)
    counted = candidates if candidates is not None and candidates <= cap else None
    if counted is None:
        within, counted = None, _more_than(session, node, f, selected, cap)
    if counted is not None and counted > cap:
        ranked = [(pk, 0.0) for pk in _newest(session, node, f, selected, limit)]
        total, is_ranked = cap + 1, False
    elif counted == 0:
        ranked, total, is_ranked = [], 0, True  # nothing matches: no need to rank
    else:
        ranked, total = _ranked(session, node, f, limit, within, counted or 0)
        is_ranked = True
    if not ranked:
        return SearchResult(query, asked, total, (), ranked=is_ranked, cap=cap)
    pks = [pk for pk, _ in ranked]
    items = {i.id: i for i in session.scalars(select(t.Item).where(t.Item.id.in_(pks)))}
    accounts = {a.id: a for a in session.scalars(
        select(t.Account).where(t.Account.id.in_({i.account_pk for i in items.values()})))}
    versions: dict[int, list[t.ItemVersion]] = {}
    for v in session.scalars(select(t.ItemVersion).where(t.ItemVersion.item_pk.in_(pks))
                             .order_by(t.ItemVersion.item_pk, t.ItemVersion.version_no)):
        versions.setdefault(v.item_pk, []).append(v)
    parents = _thread_context(session, items.values())
    hits = []
    for pk, score in ranked:
        item, vs = items[pk], versions.get(pk, [])
        matched = [v for v in vs if _matches(node, [w for w, _, _ in words_with_spans(v.text or "")])]
        shown = matched[-1] if matched else vs[-1]
        account = accounts[item.account_pk]
        hits.append(SearchHit(
            id=item.item_id, platform=item.platform,
            account=f"{account.platform}:{account.account_id}", kind=item.kind,
            author=shown.author, created_at=item.created_at.isoformat() if item.created_at else None,
            deleted=item.deleted_at is not None, versions=len(vs),
            matched_versions=tuple(v.version_no for v in matched), version=shown.version_no,
            text=shown.text or "", highlights=tuple(highlight_spans(shown.text or "", node)),
            score=score, context=tuple(parents.get((item.platform, item.parent_id), ())),
        ))
    return SearchResult(query, asked, total, tuple(hits), ranked=is_ranked, cap=cap)


def _thread_context(session: Session, items: Iterable[t.Item], depth: int = 6) -> dict[tuple[str, str | None], list[ThreadEntry]]:
    """For each parent id: the chain from the root post down to that parent."""
    rows: dict[tuple[str, str], tuple[t.Item, t.ItemVersion]] = {}
    wanted = {(i.platform, i.parent_id) for i in items if i.parent_id}
    for _ in range(depth):
        missing = {k for k in wanted if k not in rows}
        if not missing:
            break
        by_platform: dict[str, list[str]] = {}
        for platform, item_id in missing:
            by_platform.setdefault(platform, []).append(item_id or "")
        found = list(session.scalars(select(t.Item).where(or_(*[
            and_(t.Item.platform == p, t.Item.item_id.in_(ids)) for p, ids in by_platform.items()]))))
        latest: dict[int, t.ItemVersion] = {}
        for v in session.scalars(select(t.ItemVersion).where(
                t.ItemVersion.item_pk.in_([i.id for i in found])).order_by(t.ItemVersion.version_no)):
            latest[v.item_pk] = v
        for item in found:
            if item.id in latest:
                rows[(item.platform, item.item_id)] = (item, latest[item.id])
            if item.parent_id:
                wanted.add((item.platform, item.parent_id))
        if not found:
            break
    chains: dict[tuple[str, str | None], list[ThreadEntry]] = {}
    for key in {(i.platform, i.parent_id) for i in items if i.parent_id}:
        chain: list[ThreadEntry] = []
        cursor: tuple[str, str | None] = key
        seen: set[tuple[str, str | None]] = set()
        while cursor[1] and cursor in rows and cursor not in seen and len(chain) < depth:
            seen.add(cursor)
            item, version = rows[(cursor[0], cursor[1])]
            chain.append(ThreadEntry(item.item_id, item.kind, version.author, version.text or "",
                                     item.deleted_at is not None))
            cursor = (item.platform, item.parent_id)
        chains[key] = list(reversed(chain))
    return chains
