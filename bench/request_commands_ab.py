"""Before/after of the two request commands, interleaved: `archiver search` and `archiver requests
export` as fresh processes, for two code trees x two bytecode conditions, round-robin, so that a
shared machine's changing load falls on every variant alike. CPU time (user+sys of the command's
process) is the steadier figure; wall includes the PostgreSQL server's work and the waits.

    git archive BASE archiver connectors | tar -x -C /tmp/before
    python bench/request_commands_ab.py --home /tmp/p1m \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/p1m \\
        --request PRR-2026-0001 --account facebook:1001000099 --before /tmp/before --runs 4

`--pair LABEL,HOME,DATABASE_URL,REQUEST` runs a second archive's commands in the same rounds
(e.g. 10k beside 1M, for issue 10's ratio time at 1M / time at 10k <= 1.5, measured under the
same load); `--label` names the first (default "main"), `--cache-only` skips the nocache runs.

The request must exist (bench/request_bench.py opens one of 100 items). "before" runs with
PYTHONPATH=--before (ahead of the editable install); "nocache" keeps PYTHONDONTWRITEBYTECODE=1
(every process recompiles the archiver's own modules), "cache" runs from compiled bytecode in a
scratch PYTHONPYCACHEPREFIX filled by one untimed run of each command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ARCHIVER = str(Path(sys.executable).parent / "archiver")
QUERY = "post (1* OR 2* OR 3*)"


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """One command in a fresh process: wall, its own CPU (user+sys) and peak RSS (MiB)."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([ARCHIVER, *args], env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if status != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(args[:2])} failed: {err.read().decode()[-1000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _stats(values: list[float]) -> list[float]:
    return [round(min(values), 3), round(statistics.median(values), 3), round(max(values), 3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--request", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--before", type=Path, required=True, help="a tree holding the old archiver/ and connectors/")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--label", default="main", help="the first archive's name in the output")
    parser.add_argument("--pair", default=None, metavar="LABEL,HOME,DATABASE_URL,REQUEST",
                        help="a second archive whose commands run in the same rounds")
    parser.add_argument("--cache-only", action="store_true", help="only the compiled-bytecode runs")
    args = parser.parse_args()
    archives = [(args.label, args.home, args.database_url, args.request)]
    if args.pair:
        label, home, url, request = args.pair.split(",")
        archives.append((label, home, url or None, request))
    with tempfile.TemporaryDirectory(prefix="request-ab-") as tmp:
        scratch = Path(tmp)
        (scratch / "archiver.toml").write_text("")
        common = {k: v for k, v in os.environ.items()
                  if not k.startswith("ARCHIVER_") and k not in ("PYTHONPATH", "PYTHONPYCACHEPREFIX")}
        common.update(ARCHIVER_CONFIG=str(scratch / "archiver.toml"),
                      ARCHIVER_ACTOR="bench", ARCHIVER_DISTRICT="Synthetic School District", ARCHIVER_STATE="WA")
        variants: dict[str, tuple[dict[str, str], str]] = {}
        for archive, home, url, request in archives:
            for code in ("before", "after"):
                for cache in ("cache",) if args.cache_only else ("nocache", "cache"):
                    env = dict(common, ARCHIVER_HOME=home)
                    if url:
                        env["ARCHIVER_DATABASE_URL"] = url
                    if code == "before":
                        env["PYTHONPATH"] = str(args.before.resolve())
                    if cache == "cache":
                        env.pop("PYTHONDONTWRITEBYTECODE", None)
                        env["PYTHONPYCACHEPREFIX"] = str(scratch / f"pycache-{code}")
                    else:
                        env["PYTHONDONTWRITEBYTECODE"] = "1"
                    name = f"{code}-{cache}" if len(archives) == 1 else f"{archive}/{code}-{cache}"
                    variants[name] = (env, request)
        search = ["search", QUERY, "--account", args.account, "--limit", "100", "--json"]

        def export(env: dict[str, str], request: str) -> tuple[float, float, float]:
            out = scratch / "package"
            shutil.rmtree(out, ignore_errors=True)
            try:
                return _run(["requests", "export", request, "--out", str(out)], env)
            finally:
                shutil.rmtree(out, ignore_errors=True)

        for env, request in variants.values():  # untimed: fills the bytecode caches, proves each works
            _run(search, env)
            export(env, request)
        runs: dict[str, dict[str, list[tuple[float, float, float]]]] = {
            name: {"search": [], "export": []} for name in variants}
        loads = [os.getloadavg()[0]]
        for _ in range(args.runs):
            for name, (env, request) in variants.items():
                runs[name]["search"].append(_run(search, env))
                runs[name]["export"].append(export(env, request))
            loads.append(os.getloadavg()[0])
    result: dict[str, Any] = {}
    for name, r in runs.items():
        row: dict[str, Any] = {cmd: {"wall_s": _stats([x[0] for x in r[cmd]]), "cpu_s": _stats([x[1] for x in r[cmd]]),
                                     "peak_rss_mib": round(max(x[2] for x in r[cmd]), 1)}
                               for cmd in ("search", "export")}
        row["search_plus_export"] = {
            "wall_s": _stats([a[0] + b[0] for a, b in zip(r["search"], r["export"], strict=True)]),
            "cpu_s": _stats([a[1] + b[1] for a, b in zip(r["search"], r["export"], strict=True)])}
        result[name] = row
    if len(archives) == 2:  # the ratio of the medians, first archive over the second
        first, second = archives[0][0], archives[1][0]
        for code in ("before", "after"):
            a, b = result.get(f"{first}/{code}-cache"), result.get(f"{second}/{code}-cache")
            if a and b:
                result[f"ratio {first}/{second} {code}-cache"] = {
                    key: round(a["search_plus_export"][key][1] / b["search_plus_export"][key][1], 2)
                    for key in ("wall_s", "cpu_s")}
    print(json.dumps({"runs": args.runs, "load_average_min_max": [round(min(loads), 1), round(max(loads), 1)],
                      "results": result}, indent=2))


if __name__ == "__main__":
    main()
