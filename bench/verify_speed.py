"""Record-digest checking speed: warcio's checking reader (what `verify` used) against
archiver.warc.digests, on the same plaintext WARC bytes, plus a whole `verify` run.

Two kinds of WARC: the synthetic archive's (Graph API JSON, ~0.8 KB gzip members: many small
records, so zlib's per-member start-up dominates) and a media WARC (responses of 50-500 KB of
incompressible bytes, as images and video are). Speeds are stored (gzipped) MB per CPU second,
best of --repeats, so other work on the machine weighs less.

    python bench/verify_speed.py                 # builds a 2,000-item synthetic archive
    python bench/verify_speed.py --home /tmp/synth-100k --max-mb 50
    python bench/verify_speed.py --home /tmp/synth-100k --verify-only --repeats 3   # deep and routine

The whole `verify --all` is measured in process at both levels (issue 13 part 6): `deep`
(every record digest recomputed, `verify --deep`) and then `routine` (what a `verify` does on
objects whose plaintext passed a deep check: ciphertext sha256, AES-GCM tags, plaintext
sha256). Both write their verdicts to the archive's catalog: use a copy you may change.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402
from warcio.archiveiterator import ArchiveIterator  # noqa: E402

from archiver.app import App  # noqa: E402
from archiver.catalog import tables as t  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.preservation.fixity import verify  # noqa: E402
from archiver.services.warcs import warc_bytes  # noqa: E402
from archiver.warc.digests import check_record_digests  # noqa: E402
from archiver.warc.writer import HttpMessage, WarcFile  # noqa: E402


def warcio_check(data: bytes) -> int:
    """What fixity did before: warcio's ArchiveIterator with check_digests, read to the end."""
    count = 0
    for record in ArchiveIterator(io.BytesIO(data), check_digests=True):
        while record.raw_stream.read(1 << 16):
            pass
        if record.digest_checker.problems:
            raise SystemExit(f"unexpected digest problem: {record.digest_checker.problems[0]}")
        count += 1
    return count


def digests_check(data: bytes) -> int:
    check = check_record_digests(io.BytesIO(data))
    if check.finding is not None:
        raise SystemExit(f"unexpected digest problem: {check.finding.problem}")
    return check.records


def best_cpu(fn: Callable[[bytes], int], data: bytes, repeats: int) -> tuple[float, int]:
    best, records = float("inf"), 0
    for _ in range(repeats):
        started = time.process_time()
        records = fn(data)
        best = min(best, time.process_time() - started)
    return best, records


def archive_warcs(app: App, max_mb: float) -> bytes:
    with app.catalog.session() as s:
        names = list(s.scalars(select(t.WarcFile.name).order_by(t.WarcFile.id)))
    out = bytearray()
    for name in names:
        if len(out) >= max_mb * 1e6:
            break
        out += b"".join(warc_bytes(app, name))  # gzip members concatenate into one WARC
    return bytes(out)


def media_warc(folder: Path, mb: float, seed: int) -> bytes:
    rng = random.Random(seed)
    warc = WarcFile(folder, "media.warc.gz", {"archiver-platform": "bench"}, now=datetime.now(UTC))
    while warc.size < mb * 1e6:
        body = rng.randbytes(rng.randrange(50_000, 500_000))
        warc.write_exchange(
            f"https://cdn.example.org/{rng.getrandbits(64):x}.jpg",
            HttpMessage("GET /x.jpg HTTP/1.1", [("Host", "cdn.example.org")]),
            HttpMessage("200 OK", [("Content-Type", "image/jpeg"), ("Content-Length", str(len(body)))], body),
            when=datetime.now(UTC))
    sealed = warc.seal()
    return sealed.path.read_bytes()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="an existing (synthetic) archive")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--items", type=int, default=2000, help="items of the archive built without --home")
    parser.add_argument("--max-mb", type=float, default=30.0, help="WARC bytes taken from the archive")
    parser.add_argument("--media-mb", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-warcio", action="store_true", help="only the new checker")
    parser.add_argument("--verify-only", action="store_true", help="only the whole verify, deep and routine")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="verify-speed-") as tmp:
        work = Path(tmp)
        if args.home is None:
            from bench.synthetic import generate

            app = App(Settings(home=work / "home"))
            generate(app, items=args.items, seed=1)
        else:
            app = App(Settings(home=args.home, database_url=args.database_url))
        samples = {} if args.verify_only else {"synthetic JSON": archive_warcs(app, args.max_mb),
                                               "media": media_warc(work / "media", args.media_mb, seed=1)}
        if samples:
            print(f"{'WARC':<16} {'MB':>6} {'records':>8} {'checker':<18} {'CPU s':>7} {'MB/CPU-s':>9}")
        for label, data in samples.items():
            mb = len(data) / 1e6
            checkers: list[tuple[str, Callable[[bytes], int]]] = [("archiver digests", digests_check)]
            if not args.skip_warcio:
                checkers.insert(0, ("warcio", warcio_check))
            for name, fn in checkers:
                cpu, records = best_cpu(fn, data, args.repeats)
                print(f"{label:<16} {mb:6.1f} {records:8d} {name:<18} {cpu:7.2f} {mb / cpu:9.1f}")
        # The whole `verify --all` path (read, ciphertext sha256, decrypt, plaintext sha256, digests).
        with app.catalog.session() as s:
            stored = sum(s.scalars(select(t.WarcFile.object_size))) or 0
        for level, deep in (("deep", True), ("routine", False)):
            cpus, walls = [], []
            for _ in range(args.repeats):
                started_cpu, started = time.process_time(), time.perf_counter()
                report = verify(app, sample_pct=None, all_=True, deep=deep)
                cpus.append(time.process_time() - started_cpu)
                walls.append(time.perf_counter() - started)
                if report.level_counts()[level] != report.checked:
                    raise SystemExit(f"expected every object at the {level} level: {report.level_counts()}")
            cpu, wall = min(cpus), min(walls)
            print(f"verify --all {level} (in process, best of {args.repeats}): {report.checked} objects, "
                  f"{stored / 1e6:.1f} MB stored, {wall:.2f} s wall, {cpu:.2f} s CPU: "
                  f"{stored / 1e6 / wall:.1f} MB/s, {stored / 1e6 / cpu:.1f} MB/CPU-s "
                  f"(CPU s of each run: {', '.join(f'{c:.2f}' for c in cpus)}); counts {report.counts()}")
        app.close()
        os.sync()


if __name__ == "__main__":
    main()
