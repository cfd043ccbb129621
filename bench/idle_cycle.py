"""Requests of a first capture and of an idle cycle, per incremental platform (issue 12).

For each platform: a sandbox account with N items (`seed_bulk`) is captured once (a full
plan), then polled again with nothing changed upstream (an incremental plan). The sandbox
server's own request log is counted, as tests/capture/test_incremental.py counts it, so media
downloads are included. The goal is an idle cycle of at most 5% of the first capture.

    python bench/idle_cycle.py                         # every incremental platform, 1,000 items
    python bench/idle_cycle.py --platform x --items 300
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ARCHIVER_DISTRICT", "Bench School District")
os.environ.setdefault("ARCHIVER_STATE", "WA")

from archiver.services.accounts import register_account  # noqa: E402
from connectors import CONNECTORS  # noqa: E402
from tests.harness import Harness  # noqa: E402


def measure(platform: str, items: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        h = Harness(Path(folder), platform)
        try:
            seeded = h.sandbox.seed_bulk(items)
            token_file = None
            if seeded.token:
                path = Path(folder) / "bulk-token.txt"
                path.write_text(seeded.token)
                path.chmod(0o600)
                token_file = str(path)
            account = register_account(h.app, platform, seeded.raw_id, name=seeded.name, token_file=token_file)
            out: dict[str, object] = {"platform": platform}
            for label in ("first", "idle"):
                mark, started = len(h.server.requests), time.perf_counter()
                (report,) = h.poller.poll(account.label)
                if report.status != "complete":
                    raise SystemExit(f"{platform} {label} cycle: {report.status} {report.message}")
                asked = h.server.requests[mark:]
                out[label] = len(asked)
                out[f"{label}_seconds"] = round(time.perf_counter() - started, 2)
                out[f"{label}_plan"] = report.plan
                if label == "idle":
                    out["idle_paths"] = dict(Counter(r.path.rsplit("/", 1)[0] for r in asked))
            return out
        finally:
            h.close()


def main() -> None:
    incremental = sorted(p for p, r in CONNECTORS.items() if getattr(r.connector, "incremental", False))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", choices=incremental)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'platform':<10} {'first':>6} {'idle':>5} {'idle %':>7}  idle requests")
    for platform in args.platform or incremental:
        row = measure(platform, args.items)
        first, idle = int(row["first"]), int(row["idle"])  # type: ignore[call-overload]
        print(f"{platform:<10} {first:>6} {idle:>5} {100 * idle / max(first, 1):>6.1f}%  {row['idle_paths']}")


if __name__ == "__main__":
    main()
