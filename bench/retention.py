"""Over-retention of the baseline object policy (one WARC per account per capture cycle).

A facebook sandbox account is captured weekly for --weeks cycles on an injected clock; before
each cycle a share of the live posts is deleted upstream (--delete-share, seeded). The WA
series GS2010-001 is verified, and the disposition plan is previewed --years after the last
cycle. Printed: per series, how many items have a date, how many are kept past it because an
object holding their records also holds records kept longer, and by how much.

    python bench/retention.py                      # 12 weekly cycles, 10% deleted per cycle
    python bench/retention.py --weeks 26 --delete-share 0.05 --years 4
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import archiver.sandbox.kit as sandbox_clock  # noqa: E402
import connectors.facebook.sandbox as fb
from archiver.core.clock import ManualClock  # noqa: E402
from archiver.services.retention import plan  # noqa: E402
from archiver.services.schedules import verify_series  # noqa: E402
from tests.harness import Harness  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--delete-share", type=float, default=0.10)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    clock = ManualClock(datetime(2026, 1, 5, 12, tzinfo=UTC))

    class SandboxTime(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
            return clock.now()

    sandbox_clock.datetime = SandboxTime  # type: ignore[misc]  # the sandbox platform shares the clock
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp), "facebook")
        h.app.clock = clock
        try:
            for _week in range(args.weeks):
                live = sorted(i for i in h.sandbox.live_item_ids(fb.LINCOLN) if "_" in i and i.count("_") == 1)
                for item_id in rng.sample(live, int(len(live) * args.delete_share)):
                    h.sandbox.delete(item_id)
                h.poll()
                clock.advance(7 * 86400)
            verify_series(h.app, "WA", "GS2010-001", citation="bench", by="bench", actor="bench")
            result = plan(h.app, as_of=clock.now() + timedelta(days=365 * args.years))
        finally:
            h.close()
    print(f"{args.weeks} weekly cycles, {args.delete_share:.0%} of live posts deleted before each; "
          f"plan {args.years} years after the last cycle")
    print(f"objects: {len(result.objects)}, eligible: {len(result.eligible_objects())}; items by status: "
          f"{result.by_status()}")
    print(f"{'series':<12} {'dated':>6} {'kept longer':>12} {'no end date':>12} {'mean days':>10} {'max days':>9}")
    for o in result.over_retention:
        print(f"{o.series:<12} {o.items:>6} {o.kept_longer:>12} {o.open_ended:>12} {o.mean_days:>10} "
              f"{o.max_days:>9}")


if __name__ == "__main__":
    main()
