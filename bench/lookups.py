"""Whole-command timings of the catalog lookups and of `verify` on an existing archive.

Run it on an archive made by bench/synthetic.py. Each command runs as a fresh process (as a
records officer runs it), min/median/max of --repeats runs:

    python bench/lookups.py --home /tmp/synth-100k
    python bench/lookups.py --home /tmp/synth-pg --database-url postgresql+psycopg://...  --verify-sample 10

Both wall time and the child's CPU time (user + system) are reported: on a shared machine the
CPU time is the steadier figure. `verify` throughput is the stored (ciphertext) bytes it read
divided by its wall time and by its CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHIVER = [sys.executable, "-c", "from archiver.cli.main import main; main()"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, stdout)."""
    cpu = _cpu()
    started = time.perf_counter()
    done = subprocess.run(ARCHIVER + args, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"archiver {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return elapsed, _cpu() - cpu, done.stdout


def _stats(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--verify-sample", type=float, default=None,
                        help="verify this percentage of objects instead of all")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--verify-only", action="store_true", help="time only verify")
    parser.add_argument("--verify-deep", action="store_true",
                        help="verify --deep (every record digest; default: what a plain verify does)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show-queries", action="store_true",
                        help="also `items show ID` in process: SQL statements sent and ms per call")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env["ARCHIVER_HOME"] = str(args.home)
    # An empty configuration of its own (a missing ARCHIVER_CONFIG file is an error now), and
    # the district and state every command needs.
    config = Path(tempfile.mkdtemp(prefix="lookups-")) / "archiver.toml"
    config.write_text("")
    env["ARCHIVER_CONFIG"] = str(config)
    env["ARCHIVER_DISTRICT"], env["ARCHIVER_STATE"] = "Synthetic School District", "WA"
    if args.database_url:
        env["ARCHIVER_DATABASE_URL"] = args.database_url

    _, _, listing = _run(["items", "list", "--limit", "1", "--json"], env)  # also warms the page cache
    first = json.loads(listing)[0]
    account, item_id = first["account"], first["id"]
    results: dict[str, object] = {"account": account, "item": item_id}
    commands = {
        "items list --limit 100": ["items", "list", "--limit", "100"],
        f"items list --account {account} --limit 100": ["items", "list", "--account", account, "--limit", "100"],
        f"items show {item_id}": ["items", "show", item_id],
        "--help": ["--help"],
    }
    for label, command in ({} if args.verify_only else commands).items():
        runs = [_run(command, env) for _ in range(args.repeats)]
        results[label] = {"wall": _stats([r[0] for r in runs]), "cpu": _stats([r[1] for r in runs])}
    if args.show_queries:
        results[f"items show {item_id} (in process)"] = _show_queries(args.home, args.database_url, item_id,
                                                                      args.repeats)
    if not args.no_verify:
        verify = ["verify", "--json"] + (["--sample", str(args.verify_sample)] if args.verify_sample else ["--all"])
        verify += ["--deep"] if args.verify_deep else []
        elapsed, cpu, out = _run(verify, env)
        report = json.loads(out)
        stored = _stored_bytes(args.home, args.database_url, report)
        results["verify"] = {"seconds": elapsed, "cpu_seconds": cpu, "objects": report["checked"],
                             "counts": report["counts"], "levels": report.get("levels"),
                             "stored_mb": stored / 1e6,
                             "mb_per_s": stored / 1e6 / elapsed, "mb_per_cpu_s": stored / 1e6 / cpu}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for label, value in results.items():
        if isinstance(value, dict) and "wall" in value:
            wall, cpu = value["wall"], value["cpu"]
            print(f"{label}: wall {wall['min']:.2f}/{wall['median']:.2f}/{wall['max']:.2f} s, "
                  f"CPU {cpu['min']:.2f}/{cpu['median']:.2f}/{cpu['max']:.2f} s")
        else:
            print(f"{label}: {value}")


def _show_queries(home: Path, database_url: str | None, item_id: str, repeats: int) -> dict[str, object]:
    """SQL statements (each one a round trip on PostgreSQL) and milliseconds of show_item."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from archiver.app import App
    from archiver.core.settings import Settings
    from archiver.services.items import show_item

    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    app = App(Settings(home=home, database_url=database_url), migrate=False)
    try:
        show_item(app, item_id)  # warm: connection, mappers, caches
        event.listen(Engine, "before_cursor_execute", count)
        times = []
        for _ in range(max(1, repeats)):
            seen.clear()
            started = time.perf_counter()
            show_item(app, item_id)
            times.append((time.perf_counter() - started) * 1000)
        event.remove(Engine, "before_cursor_execute", count)
        return {"statements": len(seen), "ms": _stats(times)}
    finally:
        app.close()


def _stored_bytes(home: Path, database_url: str | None, report: dict) -> int:
    """Ciphertext bytes of the objects the run checked (from the fixity log of that run)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sqlalchemy import func, select

    from archiver.app import App
    from archiver.catalog import tables as t
    from archiver.core.settings import Settings

    app = App(Settings(home=home, database_url=database_url))
    try:
        with app.catalog.session() as s:
            checked = select(t.FixityCheck.warc_name).where(t.FixityCheck.run_id == report["run_id"])
            return int(s.scalar(select(func.sum(t.WarcFile.object_size)).where(t.WarcFile.name.in_(checked)))
                       or 0)
    finally:
        app.close()


if __name__ == "__main__":
    main()
