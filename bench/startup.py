"""CLI start-up: wall and CPU seconds of whole `archiver` processes (issue 13 part 5).

Each command runs --runs times as a fresh process (`python -m archiver.cli.main ...`, the same
code the `archiver` script runs); the table gives wall and CPU (user+sys of that process, from
wait4) min/median/max. `--code DIR` runs another checkout's code with this venv (for the
"before" figures: `git archive <commit> archiver connectors | tar -x -C DIR`); `--before DIR`
runs both trees, interleaved round-robin (before, after, before, ...), so that a shared
machine's changing load falls on both alike. The archive must exist (`--home`); `archiver
init` makes an empty one.

By default the commands run from compiled bytecode, as an installed archiver does (pip
compiles it): a scratch PYTHONPYCACHEPREFIX per tree, filled by the untimed first run of each
command. `--no-bytecode-cache` keeps PYTHONDONTWRITEBYTECODE=1 (every process recompiles the
archiver's own modules), the condition of the figures taken before 2026-12-03.

    python bench/startup.py --home /tmp/synth-10k
    python bench/startup.py --home /tmp/synth-10k --code /tmp/before --json
    python bench/startup.py --home /tmp/synth-10k --item 1003000988_1003000989 --query update --status
    python bench/startup.py --home /tmp/records/s1m --before /tmp/before --item ID --query comment \
        --only "items list" --only "items show" --only search --runs 7

Start-up (issue 13 part 5) is measured in the same processes: each runs under PROBE, which
marks the moment the catalog's first connection is ready (its first statement follows at once):
an audit hook on sqlite3's `sqlite3.connect/handle` event, and a wrapper around `psycopg.connect`
installed as psycopg is imported (both the driver-only read path and SQLAlchemy's dialect
call it). The mark is the process's CPU time then (time.process_time: the interpreter's own
start-up included) and its wall time since the bench started the process (CLOCK_MONOTONIC is
shared by both processes). A command that never connects (`--help`) has no start-up figure.
The probe's own cost (one Python call per audited event) is under a millisecond.

`--read` adds every read-only command that needs no id (accounts, warc, holds, requests,
audit, retention certificates, schedules, users lists; audit verify; status; config show);
`--request R` adds `requests show R` and `requests items R`, `--retention-item ID`
`retention show ID`, `--plan` `retention plan` (an audit entry too: on a copy). `--account A` adds `items list --account A --limit 100`, `--floor` adds a process that reads and prints the first page of `items list --limit 100` with
sqlite3 and rich only (see FLOOR), `--item ID` adds `items show ID`, `--query Q` adds `search Q --limit 100` (search writes an audit
entry: give it a copy of a shared archive), `--status` adds `status`; `--only PREFIX` keeps
the commands that start with PREFIX.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

COMMANDS = (["--help"], ["items", "list", "--limit", "100"], ["warc", "list"], ["verify", "--help"])
# `--read`: the read-only commands that need no id (`status` too). `search` and `retention plan`
# write an audit entry: time them on a copy (--query).
READ_COMMANDS = [["accounts", "list"], ["holds", "list"], ["requests", "list"], ["audit", "list"],
                 ["audit", "verify"], ["retention", "certificates"], ["schedules", "list"], ["users", "list"],
                 ["config", "show"]]


# `--floor`: what `items list --limit 100` would cost with no SQLAlchemy and no settings model: the
# same first page read with sqlite3 and the same rich table printed (SQLite catalogs only). Not
# the archiver's code: a measure of the floor under the libraries this command cannot avoid.
FLOOR = """
import os, sqlite3, sys
from datetime import UTC, datetime
from archiver.cli.common import console
from archiver.cli.safe_text import one_line, plain
from rich import box
from rich.table import Table
from rich.text import Text
db = sqlite3.connect(os.path.join(os.environ["ARCHIVER_HOME"], "catalog.sqlite"))
(version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
rows = db.execute(
    "SELECT i.item_id, a.platform || ':' || a.account_id, i.kind, i.created_at, i.version_count,"
    " i.deleted_at, v.text FROM items i JOIN accounts a ON a.id = i.account_pk"
    " LEFT JOIN item_versions v ON v.id = i.latest_version_pk WHERE i.created_at IS NOT NULL"
    " ORDER BY i.created_at DESC, i.id DESC LIMIT 101").fetchall()
table = Table(title=f"{min(len(rows), 100)} items (more follow)", box=box.SIMPLE_HEAD)
table.add_column("id", overflow="fold", ratio=3)
table.add_column("account", overflow="fold", ratio=2)
table.add_column("kind", no_wrap=True)
table.add_column("created", no_wrap=True)
table.add_column("ver", justify="right", no_wrap=True)
table.add_column("del", no_wrap=True)
table.add_column("text", no_wrap=True, overflow="ellipsis", max_width=16)
for item_id, account, kind, created, versions, deleted, text in rows[:100]:
    when = datetime.fromisoformat(created).replace(tzinfo=UTC).isoformat()
    table.add_row(plain(item_id), plain(account), plain(kind), when[:10], str(versions),
                  Text("yes", style="red") if deleted else "", plain(one_line(text or "")[:60]))
console.print(table)
"""


# Runs the archiver's CLI as `python -m archiver.cli.main` does, first marking (into the file
# STARTUP_BENCH_MARK names) the process's monotonic clock and CPU time when the catalog's first
# connection is ready: see the module's docstring.
PROBE = """
import os, sys, time, runpy
_mark_file = os.environ.pop("STARTUP_BENCH_MARK")
_marked = []
def _mark():
    if not _marked:
        _marked.append(1)
        with open(_mark_file, "w") as f:
            f.write(f"{time.monotonic()} {time.process_time()}")
def _hook(event, args):
    if event == "sqlite3.connect/handle":
        _mark()
sys.addaudithook(_hook)
class _PsycopgWatch:
    def find_spec(self, name, path, target=None):
        if name != "psycopg":
            return None
        sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            connect = module.connect
            def timed(*args, **kwargs):
                conn = connect(*args, **kwargs)
                _mark()
                return conn
            module.connect = timed
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, _PsycopgWatch())
sys.argv = ["archiver", *sys.argv[1:]]
runpy.run_module("archiver.cli.main", run_name="__main__", alter_sys=True)
"""


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float | None, float | None]:
    """One fresh process: its wall time and its own CPU time (user+sys), and the wall and CPU
    time at which its first catalog connection was ready (None: it made none)."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        mark = Path(tmp) / "mark"
        command = ["-c", FLOOR] if argv == ["floor"] else ["-c", PROBE, *argv]
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, *command], env={**env, "STARTUP_BENCH_MARK": str(mark)},
                                cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        if status != 0:
            err.seek(0)
            raise SystemExit(f"archiver {' '.join(argv)} failed: {err.read().decode()[-500:]}")
        first_wall = first_cpu = None
        if mark.exists():
            at, cpu = mark.read_text().split()
            first_wall, first_cpu = float(at) - started, float(cpu)
    return wall, usage.ru_utime + usage.ru_stime, first_wall, first_cpu


def _stats(values: Sequence[float]) -> list[float]:
    return [round(min(values), 3), round(statistics.median(values), 3), round(max(values), 3)]


def _tree_env(base: dict[str, str], code: Path | None, cache: Path | None) -> tuple[dict[str, str], Path]:
    """The environment and working folder that run `code`'s archiver (None: this checkout)."""
    env = dict(base)
    # `python -m` puts the working directory first on sys.path: run in the code's own folder.
    cwd = Path(__file__).resolve().parents[1]
    if code is not None:
        cwd = code.resolve()
        env["PYTHONPATH"] = str(cwd)
    if cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env, cwd


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--code", type=Path, default=None, help="run this checkout's archiver package")
    parser.add_argument("--before", type=Path, default=None,
                        help="also run this checkout's archiver, interleaved (an A/B of two trees)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--item", default=None, help="also time `items show ITEM`")
    parser.add_argument("--account", default=None, help="also time `items list --account A --limit 100`")
    parser.add_argument("--query", default=None, help="also time `search QUERY --limit 100`")
    parser.add_argument("--status", action="store_true", help="also time `status`")
    parser.add_argument("--read", action="store_true", help="also time every read-only command needing no id")
    parser.add_argument("--request", default=None, help="also time `requests show R` and `requests items R`")
    parser.add_argument("--retention-item", default=None, help="also time `retention show ID`")
    parser.add_argument("--plan", action="store_true",
                        help="also time `retention plan` (it writes an audit entry: on a copy)")
    parser.add_argument("--floor", action="store_true",
                        help="also time the floor of `items list --limit 100` (sqlite3 and rich only)")
    parser.add_argument("--only", action="append", default=[], help="only the commands starting so")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="recompile the archiver in every process (PYTHONDONTWRITEBYTECODE=1)")
    args = parser.parse_args(argv)
    commands = [*COMMANDS, ["items", "--help"]]
    commands += [["items", "list", "--account", args.account, "--limit", "100"]] if args.account else []
    commands += [["items", "show", args.item]] if args.item else []
    commands += [["search", args.query, "--limit", "100"]] if args.query else []
    commands += [["status"]] if args.status or args.read else []
    commands += READ_COMMANDS if args.read else []
    commands += [["requests", "show", args.request], ["requests", "items", args.request]] if args.request else []
    commands += [["retention", "show", args.retention_item]] if args.retention_item else []
    commands += [["retention", "plan"]] if args.plan else []
    commands += [["floor"]] if args.floor else []
    if args.only:
        commands = [c for c in commands if any(" ".join(c).startswith(p) for p in args.only)]
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONPYCACHEPREFIX")}
    base["ARCHIVER_HOME"] = str(args.home)
    base.setdefault("ARCHIVER_DISTRICT", "Bench School District")
    base.setdefault("ARCHIVER_STATE", "WA")
    if args.database_url:
        base["ARCHIVER_DATABASE_URL"] = args.database_url
    trees = {"before": args.before, "after": args.code} if args.before else {"code": args.code}
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        envs = {name: _tree_env(base, code, None if args.no_bytecode_cache else Path(tmp) / name)
                for name, code in trees.items()}
        loads = [os.getloadavg()[0]]
        results = []
        for command in commands:
            runs: dict[str, list[tuple[float, float, float | None, float | None]]] = {name: [] for name in trees}
            for env, cwd in envs.values():
                run_once(command, env, cwd)  # untimed: page cache, bytecode, proves it works
            for _ in range(args.runs):
                for name, (env, cwd) in envs.items():
                    runs[name].append(run_once(command, env, cwd))
            loads.append(os.getloadavg()[0])
            for name, timed in runs.items():
                starts = [(w, c) for _, _, w, c in timed if w is not None and c is not None]
                results.append({"command": " ".join(command), "tree": name,
                                "wall_s": _stats([t[0] for t in timed]), "cpu_s": _stats([t[1] for t in timed]),
                                "startup_wall_s": _stats([w for w, _ in starts]) if starts else None,
                                "startup_cpu_s": _stats([c for _, c in starts]) if starts else None})
    summary = {"runs": args.runs, "bytecode": not args.no_bytecode_cache,
               "load_average_min_max": [round(min(loads), 1), round(max(loads), 1)], "results": results}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"load average {summary['load_average_min_max']}; {args.runs} runs each; min/median/max of the"
          " whole command's wall and CPU, and of its start-up (to its first catalog connection)")
    for r in results:
        wall, cpu, s_wall, s_cpu = r["wall_s"], r["cpu_s"], r["startup_wall_s"], r["startup_cpu_s"]
        start = (f"  start-up CPU {s_cpu[0]:.3f}/{s_cpu[1]:.3f}/{s_cpu[2]:.3f} wall {s_wall[1]:.3f} s"
                 if s_cpu and s_wall else "")
        print(f"{r['tree']:<7} archiver {r['command']:<40} wall {wall[0]:.3f}/{wall[1]:.3f}/{wall[2]:.3f} s"
              f"  CPU {cpu[0]:.3f}/{cpu[1]:.3f}/{cpu[2]:.3f} s{start}")


if __name__ == "__main__":
    main()
