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
- the commands run from compiled bytecode (an untimed first run of each fills a cache in the
  scratch folder), as an installed archiver does; `--no-bytecode-cache` keeps the environment's
  PYTHONDONTWRITEBYTECODE=1, under which every process recompiled the archiver's own modules;
- the parts, in one process: `search_items()` (the search command's service call) and
  `export_request()` with each stage of the package builder timed (wall and CPU).

`--spread-accounts N` times only the export (`--runs` times) of a request holding one edited item
from each of N accounts (both versions: every stored WARC of those accounts), and reports the
export process's CPU, wall and peak RSS against the stored bytes of the WARCs it read from
(issue 10: cost that grows with the answer, flat memory under 300 MB while the records span GBs
of stored WARCs); `--profile FILE` adds one export under cProfile and the shares of its parts.

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


def _env(home: Path, database_url: str | None, scratch: Path, bytecode_cache: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    if bytecode_cache:
        # An installed archiver runs from compiled bytecode (pip compiles it; a source checkout
        # writes __pycache__ on first run). With PYTHONDONTWRITEBYTECODE=1 in the environment
        # every command recompiled the archiver's own ~70 modules (about 0.1 s of CPU each).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
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


def _spread_items(home: Path, database_url: str | None, accounts: int) -> tuple[list[str], int, int]:
    """One edited item from each of the first `accounts` synthetic accounts (its two versions
    are in the account's two WARCs): the items, the WARCs they touch and those WARCs' bytes."""
    from sqlalchemy import func, select

    from archiver.app import App
    from archiver.catalog import tables as t
    from archiver.core.settings import Settings

    app = App(Settings(home=home, database_url=database_url))
    try:
        with app.catalog.session() as s:
            firsts = (select(t.Account.id).where(t.Account.name.like("Synthetic School %"))
                      .order_by(t.Account.id).limit(accounts).subquery())
            picked = (select(t.Item.account_pk, func.min(t.Item.item_id).label("item_id"))
                      .where(t.Item.account_pk.in_(select(firsts.c.id)), t.Item.version_count > 1)
                      .group_by(t.Item.account_pk).subquery())
            ids = list(s.scalars(select(picked.c.item_id)))
            files = (select(t.ItemVersion.warc_file).join(t.Item, t.Item.id == t.ItemVersion.item_pk)
                     .where(t.Item.item_id.in_(ids)).distinct().subquery())
            count, size = s.execute(select(func.count(), func.coalesce(func.sum(
                func.coalesce(t.WarcFile.object_size, t.WarcFile.size)), 0))
                .where(t.WarcFile.name.in_(select(files.c.warc_file)))).one()
    finally:
        app.close()
    return ids, int(count), int(size)


def spread_export(home: Path, database_url: str | None, accounts: int, scratch: Path,
                  bytecode_cache: bool = True, runs: int = 1, profile: Path | None = None) -> dict[str, Any]:
    """Export a request whose items come from `accounts` accounts, so its records are spread
    over that many accounts' stored WARCs, `runs` times: wall, CPU and peak RSS of the export
    process against the stored bytes it reads from (the issue's goal: cost that grows with the
    answer, flat memory under 300 MB). `profile`: one more export under cProfile, its stats
    written there and the shares of the export's parts reported."""
    env = _env(home, database_url, scratch, bytecode_cache)
    ids, files, stored = _spread_items(home, database_url, accounts)
    if not any((home / "keys").glob("export*")):
        _run(["keys", "init-export"], env, scratch)
    opened = json.loads(_run(["requests", "open", "--requester", "Bench Requester",
                              "--received", date.today().isoformat(),
                              "--description", f"One edited item from each of {accounts} accounts",
                              "--json"], env, scratch)["stdout"])
    request_id = opened["id"] if "id" in opened else opened["request_id"]
    if bytecode_cache:  # an untimed export of 3 of the items fills the bytecode cache
        warm = json.loads(_run(["requests", "open", "--requester", "Bench Requester", "--received",
                                date.today().isoformat(), "--description", "warm-up", "--json"],
                               env, scratch)["stdout"])
        warm_id = warm["id"] if "id" in warm else warm["request_id"]
        _run(["requests", "add", warm_id, *[a for item in ids[:3] for a in ("--item", item)]], env, scratch)
        _run(["requests", "export", warm_id, "--out", str(scratch / "warm")], env, scratch)
        shutil.rmtree(scratch / "warm", ignore_errors=True)
    for start in range(0, len(ids), 500):
        args = ["requests", "add", request_id]
        for item in ids[start:start + 500]:
            args += ["--item", item]
        _run(args, env, scratch)
    done, package = [], 0
    for _ in range(runs):
        done.append(_run(["requests", "export", request_id, "--out", str(scratch / "spread")], env, scratch))
        package = sum(p.stat().st_size for p in (scratch / "spread").rglob("*") if p.is_file())
        shutil.rmtree(scratch / "spread", ignore_errors=True)
    result: dict[str, Any] = {
        "request": request_id, "items": len(ids), "accounts": accounts, "warc_files_read_from": files,
        "stored_bytes_of_those_warcs_mb": round(stored / 1e6, 1), "package_mb": round(package / 1e6, 1),
        "runs": [{"wall_s": round(d["wall"], 3), "cpu_s": round(d["cpu"], 3),
                  "peak_rss_mib": round(d["rss_mib"], 1)} for d in done],
        "wall_s": _stats([d["wall"] for d in done]), "cpu_s": _stats([d["cpu"] for d in done]),
        "peak_rss_mib": _stats([d["rss_mib"] for d in done]),
    }
    if profile is not None:
        result["profile"] = _profiled_export(request_id, env, scratch, profile)
    return result


PROFILED = ("_find_conclusions", "_held_items", "copy_records", "write_pdf", "gather", "build_package")


def _profiled_export(request_id: str, env: dict[str, str], scratch: Path, path: Path) -> dict[str, Any]:
    """One export under cProfile (slower than the timed ones): each named part's cumulative
    share of the profiled run."""
    import pstats

    args = [sys.executable, "-m", "cProfile", "-o", str(path), ARCHIVER,
            "requests", "export", request_id, "--out", str(scratch / "profiled")]
    # cwd: not the checkout, whose archiver `python -m` would import before PYTHONPATH's
    subprocess.run(args, env=env, check=True, capture_output=True, cwd=scratch)
    shutil.rmtree(scratch / "profiled", ignore_errors=True)
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _), (_, _, _, ct, _) in stats.items())
    shares: dict[str, Any] = {"profiled_s": round(total, 2)}
    for name in PROFILED:
        cumulative = sum(ct for (_, _, fn), (_, _, _, ct, _) in stats.items() if fn == name)
        shares[name] = round(cumulative / total, 3)
    return shares


def whole_commands(home: Path, database_url: str | None, query: str, account: str, runs: int,
                   scratch: Path, global_query: str | None,
                   bytecode_cache: bool = True) -> tuple[dict[str, Any], list[str], str]:
    env = _env(home, database_url, scratch, bytecode_cache)
    result: dict[str, Any] = {"bytecode_cache": bytecode_cache}
    if bytecode_cache:  # one untimed run of each command fills the cache, as a first use would
        _run(["search", query, "--account", account, "--limit", "100", "--json"], env, scratch)
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
    if bytecode_cache:
        _run(["requests", "export", request_id, "--out", str(scratch / "package-warm")], env, scratch)
        shutil.rmtree(scratch / "package-warm", ignore_errors=True)
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
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run the commands as the environment says (PYTHONDONTWRITEBYTECODE=1 "
                             "recompiles the archiver's modules in every process)")
    parser.add_argument("--spread-accounts", type=int, default=None, metavar="N",
                        help="only export a request of one edited item from each of N accounts "
                             "(records spread over their stored WARCs), --runs times, and report "
                             "its CPU, wall and peak RSS")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="with --spread-accounts: one more export under cProfile, stats "
                             "written to FILE, shares of the export's parts reported")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    account = args.account or _first_account(args.home, args.database_url)
    if args.account_rows_limit is not None:
        import archiver.catalog.search as search_module

        search_module.ACCOUNT_ROWS_LIMIT = args.account_rows_limit
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="request-bench-") as tmp:
        scratch = Path(tmp)
        if args.spread_accounts:
            spread = spread_export(args.home, args.database_url, args.spread_accounts, scratch,
                                   not args.no_bytecode_cache, args.runs, args.profile)
            spread["load_average_before_after"] = [round(load[0], 1), round(os.getloadavg()[0], 1)]
            print(json.dumps(spread, indent=2) if args.json else spread)
            return
        commands: dict[str, Any]
        if args.parts_only:
            commands, request_id = {}, _newest_request(args.home, args.database_url)
        else:
            commands, _, request_id = whole_commands(args.home, args.database_url, args.query, account,
                                                     args.runs, scratch, args.global_query,
                                                     not args.no_bytecode_cache)
        inside = parts(args.home, args.database_url, args.query, account, request_id, args.runs, scratch)
    result = {"home": str(args.home), "catalog": "postgresql" if args.database_url else "sqlite",
              "query": args.query, "account": account, "commands": commands, "parts": inside,
              "load_average_before_after": [round(load[0], 1), round(os.getloadavg()[0], 1)]}
    print(json.dumps(result, indent=2) if args.json else result)


if __name__ == "__main__":
    main()
