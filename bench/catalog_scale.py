"""One account's capture time against a catalog of any size (issue 13: per-account cost).

Run it on an archive made by bench/synthetic.py. A Facebook sandbox account of --items items
(0 ms platform latency, HTTP on loopback) is registered in that archive and polled through the
whole pipeline: once (its first capture: every item new), then --repeats more times (re-captures:
every item known, which is the daemon's steady state). Wall times in seconds, min/median/max.
Each run adds the account's rows to the archive, as a real capture would.

    python bench/catalog_scale.py --home /tmp/synth-100k
    python bench/catalog_scale.py --home /tmp/synth-pg --database-url postgresql+psycopg://postgres@127.0.0.1/synth
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.app import App  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.sandbox.server import SandboxServer  # noqa: E402
from archiver.services.accounts import register_account  # noqa: E402
from archiver.services.poll import Poller  # noqa: E402
from connectors import load_sandbox  # noqa: E402

PLATFORM = "facebook"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sandbox = load_sandbox(PLATFORM)
    server = SandboxServer(sandbox.app).start()
    try:
        sandbox.bind(server.url)
        seeded = sandbox.seed_bulk(args.items)
        app = App(Settings(home=args.home, database_url=args.database_url,
                           district="Bench School District", state="WA",
                           connectors={PLATFORM: {"api_base": server.url, "page_limit": 100}}))
        with tempfile.TemporaryDirectory(prefix="catalog-scale-") as tmp:
            token = Path(tmp) / "token"
            token.write_text(seeded.token)
            os.chmod(token, 0o600)
            # An earlier run registered the same sandbox account: replace it (its rows stay,
            # so every poll of this run is then a re-capture).
            account = register_account(app, PLATFORM, seeded.raw_id, token_file=str(token), replace=True,
                                       api_base=server.url)
            poller = Poller(app)
            times: list[float] = []
            timings: list[dict[str, float]] = []
            for _ in range(args.repeats + 1):
                started = time.perf_counter()
                report = next(iter(poller.poll(account.label)))
                times.append(time.perf_counter() - started)
                timings.append(report.timings)
                if report.status != "complete":
                    raise SystemExit(f"capture did not complete: {report.message}")
        app.close()
    finally:
        server.stop()
    again = times[1:]
    result = {
        "first_capture_s": times[0], "first_timings": timings[0],
        "recapture_s": {"min": min(again), "median": statistics.median(again), "max": max(again)},
        "recapture_timings": timings[1:],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    r = result["recapture_s"]
    print(f"first capture {times[0]:.3f} s {timings[0]}")
    print(f"re-capture {r['min']:.3f}/{r['median']:.3f}/{r['max']:.3f} s  (index phase: "
          + ", ".join(f"{x.get('index', 0):.3f}" for x in timings[1:]) + ")")


if __name__ == "__main__":
    main()
