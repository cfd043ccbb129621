"""Stored bytes of a first capture and of a second identical poll, with and without revisits.

For each platform: a sandbox account with N items is captured through the real pipeline
(HTTP on loopback -> CaptureSession -> WARC -> encrypted local store -> catalog), then polled
again with nothing changed upstream. "before" writes every response in full (revisit records
switched off in this process); "after" writes a response whose payload equals the latest one
stored for its URI as a WARC revisit record (issue 12 part 3). Stored bytes are the plaintext
.warc.gz sizes the catalog records (the encrypted objects add a fixed ~0.4% per segment).

    python bench/revisit.py                              # facebook, 1,000 items
    python bench/revisit.py --platform youtube --items 300
    python bench/revisit.py --platform all --items 200   # every sandbox
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

import archiver.capture.session as session_module  # noqa: E402
from archiver.app import App  # noqa: E402
from archiver.catalog import tables as t  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.sandbox.server import SandboxServer  # noqa: E402
from archiver.services.accounts import register_account  # noqa: E402
from archiver.services.archive_home import create_archive  # noqa: E402
from archiver.services.poll import Poller, RunReport  # noqa: E402
from connectors import CONNECTORS, load_sandbox  # noqa: E402


@contextmanager
def revisits(enabled: bool) -> Iterator[None]:
    original = session_module.dedupable
    if not enabled:
        session_module.dedupable = lambda status, body, truncated: False  # type: ignore[assignment]
    try:
        yield
    finally:
        session_module.dedupable = original


def _stored(app: App, report: RunReport) -> tuple[int, int, int, dict[str, int]]:
    """(plaintext bytes, encrypted object bytes, revisit records, bytes by record type) of
    the run's WARCs."""
    with app.catalog.session() as s:
        rows = list(s.scalars(select(t.WarcFile).where(t.WarcFile.name.in_(report.warcs))))
    plain = sum(r.size for r in rows)
    objects = sum(r.object_size or 0 for r in rows)
    revisit_count = 0
    by_type: dict[str, int] = {}
    reader = app.warc_reader()
    from archiver.vault.io import PlaintextReader
    from archiver.warc.reader import iter_records

    for r in rows:
        for rec in iter_records(PlaintextReader(reader.warc_bytes(r.name)), r.name):
            revisit_count += rec.rec_type == "revisit"
            by_type[rec.rec_type] = by_type.get(rec.rec_type, 0) + rec.pointer.length
    return plain, objects, revisit_count, by_type


def bench(platform: str, items: int, workdir: Path, enabled: bool) -> dict[str, float]:
    sandbox = load_sandbox(platform)
    server = SandboxServer(sandbox.app).start()
    sandbox.bind(server.url)
    seed = sandbox.seed_bulk(items)
    home = workdir / f"{platform}-{'after' if enabled else 'before'}"
    app = App(Settings(home=home, district="Bench School District", state="WA",
                       connectors={platform: {"api_base": server.url, "page_limit": 100}}))
    create_archive(app)
    token_file = None
    if seed.token:
        token_file = workdir / f"{platform}.token"
        token_file.write_text(seed.token)
        os.chmod(token_file, 0o600)
    account = register_account(app, platform, seed.raw_id, token_file=str(token_file) if token_file else None)
    try:
        with revisits(enabled):
            first = next(iter(Poller(app).poll(account.label)))
            second = next(iter(Poller(app).poll(account.label)))
        for report in (first, second):
            if report.status != "complete":
                raise SystemExit(f"{platform}: capture did not complete: {report.message}")
        p1, o1, _, types1 = _stored(app, first)
        p2, o2, rv2, types2 = _stored(app, second)
    finally:
        server.stop()
        app.close()
    return {"items": first.new, "req1": first.exchanges, "req2": second.exchanges,
            "bytes1": p1, "bytes2": p2, "objects1": o1, "objects2": o2, "revisits2": rv2,
            "types1": types1, "types2": types2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", help="platform (repeatable, or 'all'); default facebook")
    parser.add_argument("--items", type=int, default=1000, help="items in the benchmark account")
    parser.add_argument("--by-type", action="store_true", help="also print stored bytes by record type")
    args = parser.parse_args()
    platforms = args.platform or ["facebook"]
    if "all" in platforms:
        platforms = sorted(CONNECTORS)
    print(f"{'platform':<10} {'mode':<7} {'items':>6} {'req 1st':>7} {'req 2nd':>7} {'bytes 1st':>10} "
          f"{'bytes 2nd':>10} {'2nd/1st':>7} {'revisits':>8}")
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        for platform in platforms:
            for enabled in (False, True):
                r = bench(platform, args.items, Path(tmp), enabled)
                print(f"{platform:<10} {'after' if enabled else 'before':<7} {r['items']:>6.0f} "
                      f"{r['req1']:>7.0f} {r['req2']:>7.0f} {r['bytes1']:>10,.0f} {r['bytes2']:>10,.0f} "
                      f"{r['bytes2'] / max(r['bytes1'], 1):>7.1%} {r['revisits2']:>8.0f}", flush=True)
                if args.by_type:
                    for label, types in (("1st", r["types1"]), ("2nd", r["types2"])):
                        parts = ", ".join(f"{k} {v:,}" for k, v in sorted(types.items()))
                        print(f"{'':<10} {label} by record type (bytes): {parts}")


if __name__ == "__main__":
    main()
