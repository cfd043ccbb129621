"""`catalog rebuild` compares the live and rebuilt catalogs as streams (issue 13 part 4): every
difference counted, the first few shown, and memory flat however many rows there are."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from archiver.catalog import tables as t
from archiver.catalog.db import open_catalog
from archiver.preservation.rebuild import compare, snapshot

REPO = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def fill(url: str, names: list[str]) -> None:
    catalog = open_catalog(url)
    try:
        with catalog.engine.begin() as conn:
            for start in range(0, len(names), 5000):
                conn.execute(insert(t.WarcFile), [
                    {"name": n, "size": len(n), "sha256": "ab" * 32, "records": 3, "first_date": WHEN,
                     "last_date": WHEN, "store_key": f"warc/x/{n}", "stored_at": WHEN}
                    for n in names[start:start + 5000]])
    finally:
        catalog.dispose()


def test_differences_are_all_counted_and_the_first_shown(tmp_path: Path) -> None:
    live_url, rebuilt_url = f"sqlite:///{tmp_path / 'live.sqlite'}", f"sqlite:///{tmp_path / 'rebuilt.sqlite'}"
    shared = [f"w{i:05d}.warc.gz" for i in range(300)]
    fill(live_url, shared + [f"only-live-{i}.warc.gz" for i in range(12)])
    fill(rebuilt_url, shared + ["only-rebuilt.warc.gz"])
    live, rebuilt = open_catalog(live_url), open_catalog(rebuilt_url)
    try:
        diffs = {d.table: d for d in compare(live, rebuilt, examples=5)}
        expected = snapshot(live)["warc_files"] - snapshot(rebuilt)["warc_files"]
    finally:
        live.dispose()
        rebuilt.dispose()
    warcs = diffs["warc_files"]
    assert (warcs.live, warcs.rebuilt) == (312, 301) and not warcs.equal
    assert warcs.only_live_count == 12 and warcs.only_rebuilt_count == 1
    assert warcs.only_live == sorted(expected, key=str)[:5]
    assert [row[0] for row in warcs.only_rebuilt] == ["only-rebuilt.warc.gz"]
    assert all(d.equal and d.live == d.rebuilt == 0 for name, d in diffs.items() if name != "warc_files")


_COMPARE = """
import json, resource, sys
from archiver.catalog.db import open_catalog
from archiver.preservation.rebuild import compare
def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
small = [open_catalog(sys.argv[3]), open_catalog(sys.argv[3])]
compare(*small)  # warm: imports, engines, the comparison file's code paths
before = peak_mib()
live, rebuilt = open_catalog(sys.argv[1]), open_catalog(sys.argv[2])
diffs = {d.table: d for d in compare(live, rebuilt)}
w = diffs["warc_files"]
print(json.dumps({"growth_mib": peak_mib() - before, "live": w.live, "only_live": w.only_live_count,
                  "only_rebuilt": w.only_rebuilt_count}))
"""


@pytest.mark.slow  # about 30 s of CPU: 2 x 100,000 rows written, then compared
def test_comparing_large_tables_keeps_memory_flat(tmp_path: Path) -> None:
    rows = 100_000
    urls = [f"sqlite:///{tmp_path / name}.sqlite" for name in ("live", "rebuilt", "small")]
    names = [f"{i:07d}-{'x' * 60}.warc.gz" for i in range(rows)]
    fill(urls[0], names)
    fill(urls[1], names[3:])
    fill(urls[2], names[:10])
    done = subprocess.run([sys.executable, "-c", _COMPARE, *urls], cwd=REPO, check=True,
                          capture_output=True, text=True)
    result = json.loads(done.stdout)
    assert (result["live"], result["only_live"], result["only_rebuilt"]) == (rows, 3, 0)
    # Two sets of 100,000 tuples (what the comparison held before) take well over 60 MiB.
    assert result["growth_mib"] < 20, result
