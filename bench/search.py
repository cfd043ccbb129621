"""Full-text search time against catalog size, on SQLite FTS5 and PostgreSQL.

A synthetic catalog of N items (posts with four comments each, one in ten edited) is written
straight into the tables, with its search rows. Exactly 100 items carry the phrase "bus
contract"; a common word matches about a tenth of all items. Each query is run through the
same `search()` the CLI uses (ranked, 100 hits, versions matched, highlights, thread context);
the median of five runs is printed.

    python bench/search.py --items 10000 100000
    python bench/search.py --items 10000 --engine sqlite
    ARCHIVER_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test python bench/search.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from archiver.catalog import tables as t  # noqa: E402
from archiver.catalog.db import open_catalog  # noqa: E402
from archiver.catalog.search import search  # noqa: E402
from archiver.catalog.search_tables import SearchDoc  # noqa: E402
from archiver.catalog.search_text import index_body  # noqa: E402

PG_URL = os.environ.get("ARCHIVER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WORDS = ["school", "board", "meeting", "tonight", "students", "parents", "teachers", "lunch", "menu", "game", "field", "trip", "concert", "library", "science", "math", "reading", "award", "graduation", "weather", "closure", "district", "calendar", "volunteer", "fundraiser", "coach", "team", "season", "practice", "schedule", "update", "thanks", "great", "question", "answer", "please", "event", "photo", "video", "spring", "fall", "winter", "summer", "holiday"]
QUERIES = {
    "phrase, 100 items": '"bus contract"',
    "common word, limit 100": "concert",
    "prefix OR word": "fundrais* OR volunteer",
}


def generate(catalog_url: str, items: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    catalog = open_catalog(catalog_url)
    start = time.perf_counter()
    t0 = datetime(2025, 9, 1, tzinfo=UTC)
    phrase_items = set(rng.sample(range(items), 100))
    with catalog.engine.begin() as conn:
        conn.execute(insert(t.Account), [{"id": 1, "platform": "facebook", "account_id": "1",
                                          "name": "Bench High", "created_at": t0}])
        batch_items, batch_versions, batch_docs = [], [], []
        version_pk = 0
        post_id = None
        for n in range(items):
            kind = "post" if n % 5 == 0 else "comment"
            if kind == "post":
                post_id = f"p{n}"
            when = t0 + timedelta(minutes=n)
            words = rng.choices(WORDS, k=rng.randint(8, 30))
            if n in phrase_items:
                words[rng.randrange(len(words)):0] = ["bus", "contract"]
            texts = [" ".join(words).capitalize() + "."]
            if n % 10 == 3:
                texts.append(texts[0] + " (edited)")
            item_pk = n + 1
            batch_items.append({"id": item_pk, "account_pk": 1, "platform": "facebook",
                                "item_id": f"{'p' if kind == 'post' else 'c'}{n}", "kind": kind,
                                "parent_id": None if kind == "post" else post_id,
                                "created_at": when, "first_seen_at": when, "last_seen_at": when})
            for v, body in enumerate(texts, start=1):
                version_pk += 1
                batch_versions.append({
                    "id": version_pk, "item_pk": item_pk, "version_no": v, "content_sha256": "0" * 64,
                    "content": {"text": body}, "media": [], "text": body, "author": f"user{n % 997}",
                    "url": "", "observed_at": when, "warc_file": "bench.warc.gz", "warc_offset": 0,
                    "warc_length": 0, "warc_record_id": f"<urn:uuid:{uuid.UUID(int=version_pk)}>"})
                batch_docs.append({"version_pk": version_pk, "item_pk": item_pk, "body": index_body(body)})
            if len(batch_items) >= 5000 or n == items - 1:
                conn.execute(insert(t.Item), batch_items)
                conn.execute(insert(t.ItemVersion), batch_versions)
                conn.execute(insert(SearchDoc), batch_docs)
                batch_items, batch_versions, batch_docs = [], [], []
    if catalog.engine.dialect.name == "postgresql":
        with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with catalog.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    catalog.dispose()
    return time.perf_counter() - start


def measure(catalog_url: str, runs: int = 5) -> dict[str, tuple[float, int, int]]:
    catalog = open_catalog(catalog_url)
    out = {}
    for label, query in QUERIES.items():
        times = []
        for _ in range(runs):
            with catalog.session() as s:
                start = time.perf_counter()
                result = search(s, query, limit=100)
                times.append(time.perf_counter() - start)
        out[label] = (statistics.median(times), len(result.hits), result.total)
    catalog.dispose()
    return out


def pg_database() -> tuple[str, object]:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"archiver_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_URL.rsplit("/", 1)[0] + f"/{name}", (admin, name)


def drop(handle: object) -> None:
    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    print(f"{'engine':<11}{'items':>9}  {'query':<24}{'median ms':>10}{'hits':>6}{'total':>7}")
    for engine in engines:
        for items in args.items:
            with tempfile.TemporaryDirectory() as scratch:
                handle = None
                if engine == "sqlite":
                    url = f"sqlite:///{Path(scratch) / 'bench.sqlite'}"
                else:
                    url, handle = pg_database()
                try:
                    built = generate(url, items)
                    print(f"{engine:<11}{items:>9}  {'(build catalog)':<24}{built * 1000:>10.0f}")
                    for label, (seconds, hits, total) in measure(url).items():
                        print(f"{engine:<11}{items:>9}  {label:<24}{seconds * 1000:>10.1f}{hits:>6}{total:>7}")
                finally:
                    if handle is not None:
                        drop(handle)


if __name__ == "__main__":
    main()
