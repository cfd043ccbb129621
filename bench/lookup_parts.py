"""Where a fresh `items list` / `items show` spends its time on SQLite and on PostgreSQL (issue
13: "PostgreSQL no slower than SQLite at 1M"): the driver's import, the connection, and each
lookup's statements alone, on the driver-only read path (archiver.catalog.lite) the CLI takes.

The import is timed in fresh interpreters (CPU seconds of `import sqlite3` or `import psycopg`
over a bare interpreter); the connection (with the schema-version check that follows it) and
the queries in this process, warm, min/median of --runs:

    python bench/lookup_parts.py --catalog sqlite:////tmp/records/s1m/catalog.sqlite \
        --item 1001000099_1003000976 --account facebook:1001000099
    python bench/lookup_parts.py --catalog postgresql+psycopg://postgres@127.0.0.1:5432/records_1m ...
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from archiver.catalog import lite


def _import_cpu(module: str, runs: int) -> list[float]:
    """CPU seconds of importing `module` in a fresh interpreter, over a bare one."""
    def cpu(code: str) -> float:
        proc = subprocess.Popen([sys.executable, "-c", code])
        _, _, usage = os.wait4(proc.pid, 0)
        return usage.ru_utime + usage.ru_stime
    return [cpu(f"import {module}") - cpu("pass") for _ in range(runs)]


def _timed(fn: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def _ms(values: list[float]) -> list[float]:
    return [round(min(values) * 1000, 2), round(statistics.median(values) * 1000, 2)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", required=True, help="a plain sqlite:/// or postgresql+psycopg:// URL")
    parser.add_argument("--item", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    catalog = lite.catalog_at(args.catalog)
    assert catalog is not None, "not a plain catalog URL"
    sqlite = catalog.sqlite_file is not None
    driver = "sqlite3" if sqlite else "psycopg"

    def connect() -> None:
        opened = lite._open(catalog)
        assert opened is not None
        opened[0].close()

    opened = lite._open(catalog)
    assert opened is not None
    db, _ = opened
    where, params = lite._filters(db, args.account, None, None, None)
    assert where is not None
    lookups: dict[str, Callable[[], Any]] = {
        "items list --limit 100": lambda: lite._page(db, [], [], 101, None, sqlite=sqlite),
        "items list --account A --limit 100": lambda: lite._page(
            db, *lite._filters(db, args.account, None, None, None), 101, None, sqlite=sqlite),  # type: ignore[arg-type]
        "items show ID": lambda: lite._detail(db, list(db.execute(lite._DETAIL, [args.item])), sqlite),
    }
    load = os.getloadavg()[0]
    report = {
        "catalog": args.catalog.split("@")[-1], "load_average": round(load, 1),
        f"import {driver} CPU ms (min, median)": _ms(_import_cpu(driver, 7)),
        "connect + schema check ms": _ms(_timed(connect, args.runs)),
        **{f"{name} query alone ms": _ms(_timed(fn, args.runs)) for name, fn in lookups.items()},
    }
    db.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
