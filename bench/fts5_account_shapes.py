"""FTS5 shapes for a search within one account, measured on a bare FTS5 table (issue 10).

Builds, in a scratch SQLite file, documents of the synthetic archive's shape (per account 1,000
items: "bulk post N" for every third, "bulk comment 0|1" for the rest, one in twenty edited) and
times one account's search `post (1* OR 2* OR 3*)`:
- FTS5 as the catalog has it (one body column): every match in the archive, with bm25;
- an indexed account column: `account : "aN" AND body : (...)`, rowids only and with bm25;
- the same with a prefix index (prefix='1 2 3');
- reading the account's documents and matching them in Python (what archiver/catalog/search.py
  does for an account of up to ACCOUNT_ROWS_LIMIT items).

    python bench/fts5_account_shapes.py --accounts 10 1000
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.catalog.search import _compile, _leaves, _occurrences  # noqa: E402
from archiver.catalog.search_text import parse_query  # noqa: E402

QUERY = "post (1* OR 2* OR 3*)"
FTS_QUERY = '"post" AND ("1"* OR "2"* OR "3"*)'


def build(path: Path, accounts: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE docs(version_pk INTEGER PRIMARY KEY, item_pk INTEGER, body TEXT, account TEXT)")
    conn.execute("CREATE INDEX ix_docs_account ON docs(account)")
    rows, pk = [], 0
    for a in range(1, accounts + 1):
        for n in range(1000):
            body = f"bulk post {999 - n}" if n % 3 == 0 else f"bulk comment {n % 2}"
            pk += 1
            rows.append((pk, pk, body, f"a{a}"))
            if n % 20 == 0:
                pk += 1
                rows.append((pk, pk - 1, body + " edited", f"a{a}"))
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
    opts = "content='docs', content_rowid='version_pk', tokenize='unicode61 remove_diacritics 0'"
    for name, columns, extra in (("fts_body", "body", ""), ("fts_account", "body, account", ""),
                                 ("fts_prefix", "body, account", ", prefix='1 2 3'")):
        started = time.process_time()
        conn.execute(f"CREATE VIRTUAL TABLE {name} USING fts5({columns}, {opts}{extra})")
        conn.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")
        size = conn.execute(f"SELECT sum(length(block)) FROM {name}_data").fetchone()[0]
        print(f"  build {name}: {time.process_time() - started:.2f} s CPU, {size / 1e6:.1f} MB")
    conn.commit()
    return conn


def timed(label: str, run: object) -> None:
    best = None
    for _ in range(5):
        started = time.process_time()
        rows = run()  # type: ignore[operator]
        spent = time.process_time() - started
        best = spent if best is None else min(best, spent)
    print(f"  {label:58s} {len(rows):7d} rows {1000 * (best or 0):8.2f} ms CPU")


def python_path(conn: sqlite3.Connection, account: str) -> list[int]:
    node = parse_query(QUERY)
    leaves = list(dict.fromkeys(_leaves(node)))
    matches = _compile(node, {leaf: i for i, leaf in enumerate(leaves)})
    found = []
    for pk, body in conn.execute("SELECT version_pk, body FROM docs WHERE account = ?", (account,)):
        words = body.split()
        if matches([_occurrences(leaf, words, body) for leaf in leaves]):
            found.append(pk)
    return found


def measure(conn: sqlite3.Connection) -> None:
    scoped = f'account : "a1" AND body : ({FTS_QUERY})'
    timed("FTS5 body only: every match, bm25", lambda: conn.execute(
        "SELECT rowid, bm25(fts_body) FROM fts_body WHERE fts_body MATCH ?", (FTS_QUERY,)).fetchall())
    for name, label in (("fts_account", "account column"), ("fts_prefix", "account column + prefix index")):
        timed(f"{label}: rowids", lambda name=name: conn.execute(
            f"SELECT rowid FROM {name} WHERE {name} MATCH ?", (scoped,)).fetchall())
        timed(f"{label}: bm25", lambda name=name: conn.execute(
            f"SELECT rowid, bm25({name}, 1.0, 0.0) FROM {name} WHERE {name} MATCH ?", (scoped,)).fetchall())
    timed("the account's rows, matched in Python (no ranking)", lambda: python_path(conn, "a1"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[10, 1000])
    args = parser.parse_args()
    for accounts in args.accounts:
        print(f"{accounts} accounts ({accounts * 1050:,} documents)")
        with tempfile.TemporaryDirectory() as tmp:
            conn = build(Path(tmp) / "fts.sqlite", accounts)
            measure(conn)
            conn.close()


if __name__ == "__main__":
    main()
