"""The record-digest checker against its floor: inflating each gzip member and nothing else.

Interleaved rounds in one process (so machine load weighs on all alike), CPU seconds, best and
median. `--before FILE` also times another version of archiver/warc/digests.py (e.g. from
`git show d4c3589:archiver/warc/digests.py > /tmp/digests_before.py`).

    python bench/verify_floor.py --home /tmp/synth-10k --max-mb 6 [--before /tmp/digests_before.py]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.app import App  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.warc import digests  # noqa: E402
from bench.verify_speed import archive_warcs  # noqa: E402


def inflate_only(data: bytes) -> int:
    """What any checker must do at least: one zlib stream per gzip member, read to its end."""
    pos, members, view = 0, 0, memoryview(data)
    while pos < len(data):
        d = zlib.decompressobj(31)
        piece = view[pos:pos + 4096]
        d.decompress(piece)
        while not d.eof:
            pos += len(piece)
            piece = view[pos:pos + 4096]
            d.decompress(piece)
        pos += len(piece) - len(d.unused_data)
        members += 1
    return members


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--max-mb", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--before", type=Path, default=None, help="another digests.py to time too")
    args = parser.parse_args(argv)
    app = App(Settings(home=args.home, database_url=args.database_url), migrate=False)
    data = archive_warcs(app, args.max_mb)
    app.close()
    checkers: dict[str, Callable[[bytes], int]] = {"inflate only": inflate_only}
    if args.before:
        before = load(args.before, "digests_before")
        checkers["checker before"] = lambda d: before.check_record_digests(io.BytesIO(d)).records
    checkers["checker"] = lambda d: digests.check_record_digests(io.BytesIO(d)).records
    times: dict[str, list[float]] = {name: [] for name in checkers}
    for _ in range(args.rounds):
        for name, fn in checkers.items():
            started = time.process_time()
            fn(data)
            times[name].append(time.process_time() - started)
    records = digests.check_record_digests(io.BytesIO(data)).records
    mb = len(data) / 1e6
    print(f"{mb:.2f} MB, {records} records ({len(data) / records:.0f} B per gzip member)")
    floor = statistics.median(times["inflate only"])
    for name, spent in times.items():
        best, median = min(spent), statistics.median(spent)
        print(f"{name:<16} best {mb / best:6.1f} MB/CPU-s ({best / records * 1e6:5.1f} µs/record)  "
              f"median {mb / median:6.1f} MB/CPU-s  {median / floor:.2f}x the floor")


if __name__ == "__main__":
    main()
