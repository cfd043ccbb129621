"""Search returning 100 items, then the export of those 100 items, on a synthetic archive.

Issue 10's goal: search + export under 2 s at 1,000,000 items on PostgreSQL, and time at 1M /
time at 10k <= 1.5 (cost grows with the answer, not the archive). Run it on archives made by
bench/synthetic.py:

    python bench/synthetic.py --home /tmp/s10k --items 10000
    python bench/request_bench.py --home /tmp/s10k --json
    python bench/request_bench.py --home /tmp/p1m \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/p1m --json

What is timed, `--runs` times each (min/median/max):
- whole commands, each a fresh `archiver` process (start-up included): `archiver search QUERY
  --account A --limit 100 --json`, then, on a request holding the 100 items that search
  returned, `archiver requests export ID --out DIR`; wall seconds, and the process's own CPU
  (on PostgreSQL the query's work is in the server and shows in wall time only) and peak RSS;
- the parts, in one process: `search_items()` (the search command's service call) and
  `export_request()` with each stage of the package builder timed (wall and CPU).

The default query finds the posts numbered 1xx, 2xx and 3xx of one synthetic account (111
items, all accounts being copies of one template), so the answer is the same size at any
archive size and the search returns its best 100. `--global-query` also times a search with no
account filter (best 100 of matches that grow with the archive), for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARCHIVER = str(Path(sys.executable).parent / "archiver")
DEFAULT_QUERY = "post (1* OR 2* OR 3*)"


def _env(home: Path, database_url: str | None, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    config = scratch / "archiver.toml"
    config.write_text("")
    env.update(ARCHIVER_HOME=str(home), ARCHIVER_CONFIG=str(config), ARCHIVER_ACTOR="bench",
               ARCHIVER_DISTRICT="Synthetic School District", ARCHIVER_STATE="WA")
    if database_url:
        env["ARCHIVER_DATABASE_URL"] = database_url
    return env


def _run(args: list[str], env: dict[str, str], scratch: Path) -> dict[str, Any]:
    """One command in a fresh process: wall, its own CPU (user+sys) and peak RSS."""
    out, err = scratch / "stdout", scratch / "stderr"
    with open(out, "wb") as o, open(err, "wb") as e:
        started = time.perf_counter()
        proc = subprocess.Popen([ARCHIVER, *args], env=env, stdout=o, stderr=e)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed: {err.read_text()[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024,
            "stdout": out.read_text()}


def _stats(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3)}


def _first_account(home: Path, database_url: str | None) -> str:
    from sqlalchemy import select

    from archiver.app import App
    from archiver.catalog import tables as t
    from archiver.core.settings import Settings

    app = App(Settings(home=home, database_url=database_url))
    try:
        with app.catalog.session() as s:
            row = s.execute(select(t.Account.platform, t.Account.account_id)
                            .where(t.Account.name.like("Synthetic School %")).order_by(t.Account.id).limit(1)).one()
    finally:
        app.close()
    return f"{row[0]}:{row[1]}"


def _newest_request(home: Path, database_url: str | None) -> str:
    from sqlalchemy import select

    from archiver.app import App
    from archiver.catalog.request_tables import RecordsRequest
    from archiver.core.settings import Settings

    app = App(Settings(home=home, database_url=database_url))
    try:
        with app.catalog.session() as s:
            found = s.scalar(select(RecordsRequest.id).order_by(RecordsRequest.opened_at.desc()).limit(1))
    finally:
        app.close()
    if found is None:
        raise SystemExit("--parts-only needs a request: run the bench once without it")
    return str(found)


def whole_commands(home: Path, database_url: str | None, query: str, account: str, runs: int,
                   scratch: Path, global_query: str | None) -> tuple[dict[str, Any], list[str], str]:
    env = _env(home, database_url, scratch)
    result: dict[str, Any] = {}
    searches = [_run(["search", query, "--account", account, "--limit", "100", "--json"], env, scratch)
                for _ in range(runs)]
    found = json.loads(searches[-1]["stdout"])
    ids = [h["id"] for h in found["hits"]]
    result["search"] = {"hits": len(ids), "total": found["total"],
                        "wall_s": _stats([r["wall"] for r in searches]),
                        "cpu_s": _stats([r["cpu"] for r in searches])}
    if global_query:
        glob = [_run(["search", global_query, "--limit", "100", "--json"], env, scratch) for _ in range(runs)]
        g = json.loads(glob[-1]["stdout"])
        result["search_global"] = {"query": global_query, "hits": len(g["hits"]), "total": g["total"],
                                   "wall_s": _stats([r["wall"] for r in glob]),
                                   "cpu_s": _stats([r["cpu"] for r in glob])}
    help_runs = [_run(["--help"], env, scratch) for _ in range(runs)]
    result["archiver_help"] = {"wall_s": _stats([r["wall"] for r in help_runs]),
                               "cpu_s": _stats([r["cpu"] for r in help_runs])}
    keys = home / "keys"
    if not any(keys.glob("export*")):
        _run(["keys", "init-export"], env, scratch)
    opened = json.loads(_run(["requests", "open", "--requester", "Bench Requester",
                              "--received", date.today().isoformat(),
                              "--description", f"Posts matching {query} of {account}", "--json"],
                             env, scratch)["stdout"])
    request_id = opened["id"] if "id" in opened else opened["request_id"]
    add_args = ["requests", "add", request_id]
    for item in ids:
        add_args += ["--item", item]
    added = _run(add_args, env, scratch)
    result["requests_add_100_items"] = {"wall_s": round(added["wall"], 3), "cpu_s": round(added["cpu"], 3)}
    exports = []
    for n in range(runs):
        out = scratch / f"package-{n}"
        exports.append(_run(["requests", "export", request_id, "--out", str(out)], env, scratch))
        shutil.rmtree(out, ignore_errors=True)
    result["export"] = {"request": request_id, "wall_s": _stats([r["wall"] for r in exports]),
                        "cpu_s": _stats([r["cpu"] for r in exports]),
                        "peak_rss_mib": _stats([r["rss_mib"] for r in exports])}
    walls = [s["wall"] + e["wall"] for s, e in zip(searches, exports, strict=True)]
    result["search_plus_export_wall_s"] = _stats(walls)
    return result, ids, request_id


def parts(home: Path, database_url: str | None, query: str, account: str, request_id: str,
          runs: int, scratch: Path) -> dict[str, Any]:
    """The same work inside one process: the service calls, and each stage of the builder."""
    import archiver.requests.package.build as build
    from archiver.app import App
    from archiver.catalog.search import SearchFilters
    from archiver.core.settings import Settings
    from archiver.services.requests import export_request
    from archiver.services.search import search_items

    stages: dict[str, list[tuple[float, float]]] = {}
    names = ("gather", "copy_records", "write_pdf", "write_indexes", "write_wacz", "make_bag", "sign_bag")
    originals = {name: getattr(build, name) for name in names}

    def timed(name: str) -> Any:
        real = originals[name]

        def wrapper(*a: Any, **k: Any) -> Any:
            w, c = time.perf_counter(), time.process_time()
            try:
                return real(*a, **k)
            finally:
                stages.setdefault(name, []).append((time.perf_counter() - w, time.process_time() - c))
        return wrapper

    for name in names:
        setattr(build, name, timed(name))
    app = App(Settings(home=home, database_url=database_url, district="Synthetic School District", state="WA"))
    out: dict[str, Any] = {}
    try:
        search_times: list[tuple[float, float]] = []
        for _ in range(runs):
            w, c = time.perf_counter(), time.process_time()
            found = search_items(app, query, SearchFilters(account=account), limit=100, actor="bench")
            search_times.append((time.perf_counter() - w, time.process_time() - c))
        out["search_items"] = {"hits": len(found.hits), "total": found.total,
                               "wall_s": _stats([x[0] for x in search_times]),
                               "cpu_s": _stats([x[1] for x in search_times])}
        totals: list[tuple[float, float]] = []
        for n in range(runs):
            w, c = time.perf_counter(), time.process_time()
            summary = export_request(app, request_id, scratch / f"parts-{n}", actor="bench")
            totals.append((time.perf_counter() - w, time.process_time() - c))
            shutil.rmtree(scratch / f"parts-{n}", ignore_errors=True)
        out["export_request"] = {"items": summary.items, "records": summary.records,
                                 "warc_mb": round(summary.warc_bytes / 1e6, 2),
                                 "wall_s": _stats([x[0] for x in totals]),
                                 "cpu_s": _stats([x[1] for x in totals])}
        out["export_stages"] = {name: {"wall_s": _stats([x[0] for x in v]), "cpu_s": _stats([x[1] for x in v])}
                                for name, v in stages.items()}
        rest = [tot[0] - sum(v[i][0] for v in stages.values()) for i, tot in enumerate(totals)]
        out["export_stages"]["other (reading copy HTML, request model, audit)"] = {"wall_s": _stats(rest)}
    finally:
        for name, real in originals.items():
            setattr(build, name, real)
        app.close()
    out["peak_rss_mib_of_this_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--query", default=DEFAULT_QUERY)
    parser.add_argument("--account", default=None, help="default: the first synthetic account")
    parser.add_argument("--global-query", default=None, help="also time this query with no account filter")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--account-rows-limit", type=int, default=None,
                        help="in-process parts only: archiver.catalog.search.ACCOUNT_ROWS_LIMIT "
                             "(-1: every account search through FTS5, as before issue 10's fix)")
    parser.add_argument("--parts-only", action="store_true",
                        help="skip the whole commands; time the parts on the archive's newest request")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    account = args.account or _first_account(args.home, args.database_url)
    if args.account_rows_limit is not None:
        import archiver.catalog.search as search_module

        search_module.ACCOUNT_ROWS_LIMIT = args.account_rows_limit
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="request-bench-") as tmp:
        scratch = Path(tmp)
        commands: dict[str, Any]
        if args.parts_only:
            commands, request_id = {}, _newest_request(args.home, args.database_url)
        else:
            commands, _, request_id = whole_commands(args.home, args.database_url, args.query, account,
                                                     args.runs, scratch, args.global_query)
        inside = parts(args.home, args.database_url, args.query, account, request_id, args.runs, scratch)
    result = {"home": str(args.home), "catalog": "postgresql" if args.database_url else "sqlite",
              "query": args.query, "account": account, "commands": commands, "parts": inside,
              "load_average_before_after": [round(load[0], 1), round(os.getloadavg()[0], 1)]}
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
