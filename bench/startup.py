"""CLI start-up: wall and CPU seconds of whole `archiver` processes (issue 13 part 5).

Each command runs --runs times as a fresh process (`python -m archiver.cli.main ...`, the same
code the `archiver` script runs); the table gives wall min/median/max and the median CPU
(user+sys of the child). `--code DIR` runs another checkout's code with this venv (for the
"before" figures: `git archive <commit> | tar -x -C DIR`). The archive must exist (`--home`);
`archiver init` makes an empty one.

    python bench/startup.py --home /tmp/synth-10k
    python bench/startup.py --home /tmp/synth-10k --code /tmp/before --json
    python bench/startup.py --home /tmp/synth-10k --item 1003000988_1003000989 --query update --status

`--item ID` adds `items show ID`, `--query Q` adds `search Q`, `--status` adds `status`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (["--help"], ["items", "list", "--limit", "100"], ["warc", "list"], ["verify", "--help"])


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "archiver.cli.main", *argv], env=env, cwd=cwd,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"archiver {' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--code", type=Path, default=None, help="run this checkout's archiver package")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--item", default=None, help="also time `items show ITEM`")
    parser.add_argument("--query", default=None, help="also time `search QUERY`")
    parser.add_argument("--status", action="store_true", help="also time `status`")
    args = parser.parse_args(argv)
    commands = [*COMMANDS, ["items", "--help"]]
    commands += [["items", "show", args.item]] if args.item else []
    commands += [["search", args.query]] if args.query else []
    commands += [["status"]] if args.status else []
    env = {**os.environ, "ARCHIVER_HOME": str(args.home)}
    env.setdefault("ARCHIVER_DISTRICT", "Bench School District")
    env.setdefault("ARCHIVER_STATE", "WA")
    if args.database_url:
        env["ARCHIVER_DATABASE_URL"] = args.database_url
    # `python -m` puts the working directory first on sys.path: run in the code's own folder.
    cwd = Path(__file__).resolve().parents[1]
    if args.code:
        cwd = args.code.resolve()
        env["PYTHONPATH"] = str(cwd)
    results = []
    for command in commands:
        run_once(command, env, cwd)  # warm the page cache and .pyc files
        walls, cpus = zip(*(run_once(command, env, cwd) for _ in range(args.runs)), strict=True)
        results.append({"command": " ".join(command), "wall_min": min(walls),
                        "wall_median": statistics.median(walls), "wall_max": max(walls),
                        "cpu_median": statistics.median(cpus)})
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"load": load, "results": results}, indent=2))
        return
    print(f"load average {load:.1f}; {args.runs} runs each")
    for r in results:
        print(f"archiver {r['command']:<28} wall {r['wall_min']:.3f}/{r['wall_median']:.3f}/{r['wall_max']:.3f} s"
              f"  CPU median {r['cpu_median']:.3f} s")


if __name__ == "__main__":
    main()
