"""`search()` at scale, over and under the ranking cap (catalog.search.RANK_LIMIT).

Times the catalog's search function itself (what `archiver search` and the console's /search
call) on an existing archive, per query: a warm-up, then `--runs` timed calls; medians of wall
time and of this process's CPU time (the database server's own CPU is not included on
PostgreSQL). Prints whether the result was ranked and its total.

    python bench/search_cap.py --home /tmp/s1m [--database-url postgresql+psycopg://...] --runs 3
    python bench/search_cap.py --home /tmp/s1m --walk-limit 1   # the fallback: list every match
    python bench/search_cap.py --home /tmp/s1m --filtered [--ranker fts5]   # filters under the cap
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.app import App  # noqa: E402
from archiver.catalog.search import SearchFilters, search  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402

# The synthetic archive's words (bench/synthetic.py): "bulk post N", "bulk comment N", ...
QUERIES: list[tuple[str, str, SearchFilters | None]] = [
    ("phrase, about 1 item per account", '"bulk post 501"', None),
    ("word in 2/3 of items", "comment", None),
    ("word in every item", "bulk", None),
    ("word + edited", "post", SearchFilters(edited=True)),
    ("word + kind=reply (no match; under the cap)", "comment", SearchFilters(kind="reply")),
    ('phrase + prefix: "bulk post" 5* (36,000 items)', '"bulk post" 5*', None),
    ("word + since 2025-12-15 (31,208 items)", "comment", SearchFilters(since=date(2025, 12, 15))),
    ("word + one account (1,000 items)", "comment", SearchFilters(account="Synthetic School 2")),
]

# Filters that leave a common word's matches under the cap (--filtered): ranked on SQLite from
# the filtered matches only (the filters inside the FTS5 query, branch sqlitefilter).
FILTERED: list[tuple[str, str, SearchFilters | None]] = [
    ("comment + kind=reply (0)", "comment", SearchFilters(kind="reply")),
    ("comment + kind=comment + deleted", "comment", SearchFilters(kind="comment", deleted=True)),
    ("post + kind=post + deleted", "post", SearchFilters(kind="post", deleted=True)),
    ("comment + author=nobody (0)", "comment", SearchFilters(author="nobody")),
    ("bulk + until 2020-01-01", "bulk", SearchFilters(until=date(2020, 1, 1))),
    # a common author (the synthetic archive has two: "Parent Volunteer" writes the comments)
    ("comment + author=volunteer (over the cap)", "comment", SearchFilters(author="volunteer")),
    ('"bulk post 501" + author=elementary (posts)', '"bulk post 501"', SearchFilters(author="elementary")),
    # the deleted items of every kind (10,000 comments): ranked in Python or by FTS5, whichever
    # reads less (catalog.search.FTS5_MATCHES_PER_ITEM); compare with --ranker fts5
    ("bulk + deleted (1,000,000 matches)", "bulk", SearchFilters(deleted=True)),
    ("1* + deleted (380,000 matches; 4,000 deleted)", "1*", SearchFilters(deleted=True)),
    ("post + deleted (334,000 matches; none deleted)", "post", SearchFilters(deleted=True)),
    ("501 + deleted (1,000 matches; none deleted)", "501", SearchFilters(deleted=True)),
]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(home: Path, database_url: str | None, runs: int, limit: int,
        queries: list[tuple[str, str, SearchFilters | None]] = QUERIES) -> list[dict[str, Any]]:
    app = App(Settings(home=home, database_url=database_url))
    rows = []
    try:
        for label, query, filters in queries:
            wall, cpu = [], []
            result: Any = None
            for i in range(runs + 1):
                with app.catalog.session() as s:
                    c0, w0 = _cpu(), time.perf_counter()
                    result = search(s, query, filters, limit=limit)
                    w1, c1 = time.perf_counter(), _cpu()
                if i:
                    wall.append((w1 - w0) * 1000)
                    cpu.append((c1 - c0) * 1000)
            rows.append({"query": label, "wall_ms": round(statistics.median(wall), 1),
                         "cpu_ms": round(statistics.median(cpu), 1),
                         "ranked": getattr(result, "ranked", True),
                         "total": getattr(result, "total_text", result.total), "hits": len(result.hits)})
    finally:
        app.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--walk-limit", type=int, default=None,
                        help="Set catalog.search.WALK_LIMIT (1: always list the matches instead of walking).")
    parser.add_argument("--filtered", action="store_true",
                        help="Time the filtered queries under the cap instead (FILTERED).")
    parser.add_argument("--ranker", choices=["auto", "fts5"], default="auto",
                        help="fts5: never rank a few filtered items in Python (catalog.search._ranked_here), "
                             "to compare with FTS5's own ranking of them.")
    args = parser.parse_args(argv)
    if args.ranker == "fts5":
        import archiver.catalog.search as ranking

        ranking._ranked_here = lambda *_: None  # type: ignore[assignment]
    if args.walk_limit is not None:
        import archiver.catalog.search as search_module

        search_module.WALK_LIMIT = args.walk_limit  # type: ignore[attr-defined,unused-ignore]
    rows = run(args.home, args.database_url, args.runs, args.limit, FILTERED if args.filtered else QUERIES)
    print("| query | wall ms | client CPU ms | ranked | total | hits |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for r in rows:
        print(f"| {r['query']} | {r['wall_ms']} | {r['cpu_ms']} | {r['ranked']} | {r['total']} | {r['hits']} |")


if __name__ == "__main__":
    main()
