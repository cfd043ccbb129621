"""The catalog lookups alone, in process: no process start-up, no rendering (issue 13).

Times the service calls the CLI makes for `items list --limit 100`, `items list --account A
--limit 100` and `items show ID` on an archive made by bench/synthetic.py, after one warm-up
call each; min/median/max of --repeats, in milliseconds. The account and item are the newest
listed ones, as bench/lookups.py picks them.

    python bench/catalog_queries.py --home /tmp/synth-100k
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.app import App  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.services.items import list_items, show_item  # noqa: E402


def _time(call: Callable[[], Any], repeats: int) -> dict[str, float]:
    call()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return {"min": min(runs), "median": statistics.median(runs), "max": max(runs)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    app = App(Settings(home=args.home, database_url=args.database_url))
    try:
        first = list_items(app, limit=1).items[0]
        results: dict[str, Any] = {"account": first.account, "item": first.id}
        results["items list --limit 100"] = _time(lambda: list_items(app, limit=100), args.repeats)
        results["items list --account A --limit 100"] = _time(
            lambda: list_items(app, account=first.account, limit=100), args.repeats)
        results["items show ID"] = _time(lambda: show_item(app, first.id), args.repeats)
    finally:
        app.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for label, value in results.items():
        if isinstance(value, dict):
            print(f"{label}: {value['min']:.1f}/{value['median']:.1f}/{value['max']:.1f} ms")
        else:
            print(f"{label}: {value}")


if __name__ == "__main__":
    main()
