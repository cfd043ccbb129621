"""What a first capture and an idle cycle cost, per platform, and how many accounts fit a budget.

For each platform: a sandbox account with N items is captured once (full), then polled again
with nothing changed upstream (incremental), twice: the first idle cycle may ask new URIs (a
since-cursor set by the full capture), the second repeats them (its identical answers become
revisit records), as every later idle cycle does. Reported: the requests the sandbox served, the
platform's quota units where it prices requests (YouTube), and the stored (encrypted) bytes of
each cycle; then, from the platform's default quota model (connectors/quotas.py), how many such
accounts fit one credential's budget at a 15-minute interval if every cycle cost a first
capture (before incremental capture) and if it costs an idle cycle (after).

    python bench/incremental.py                       # every platform, 1,000 items each
    python bench/incremental.py --platform facebook --items 1000
    python bench/incremental.py --breakdown           # also: what an idle cycle's object holds
    python bench/incremental.py --fields              # also: what each field of its records costs

`--fields` takes the second idle cycle's WARC apart: for each record type, the mean gzipped
size of a record, and for each WARC field and block line (an HTTP header, a warcinfo field) the gzipped bytes the record would
lose without it (each record is its own gzip member, so a field costs what it adds to that
member: a random id or digest costs most of its length, a repeated URI little).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from archiver.app import App  # noqa: E402
from archiver.capture.budget import period_bounds  # noqa: E402
from archiver.catalog import tables as t  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.sandbox.server import SandboxServer  # noqa: E402
from archiver.services.accounts import register_account  # noqa: E402
from archiver.services.archive_home import create_archive  # noqa: E402
from archiver.services.poll import Poller  # noqa: E402
from connectors import CONNECTORS, load_sandbox  # noqa: E402
from connectors.quotas import MODELS  # noqa: E402

CYCLE_S = 15 * 60


def _stored_bytes(app: App, names: tuple[str, ...]) -> int:
    with app.catalog.session() as s:
        total = s.scalar(select(func.coalesce(func.sum(t.WarcFile.object_size), 0)).where(t.WarcFile.name.in_(names)))
    return int(total or 0)


def _breakdown(app: App, names: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """What a cycle's stored objects hold: (records, gzipped bytes) per WARC record type
    (requests and revisits also split by purpose), plus the encryption envelope (stored
    object bytes minus the plaintext .warc.gz bytes)."""
    from archiver.vault.io import PlaintextReader
    from archiver.warc.reader import iter_records

    with app.catalog.session() as s:
        rows = list(s.scalars(select(t.WarcFile).where(t.WarcFile.name.in_(names))))
    out: dict[str, tuple[int, int]] = {}
    reader = app.warc_reader()
    for row in rows:
        envelope = (row.object_size or 0) - row.size
        n, b = out.get("envelope", (0, 0))
        out["envelope"] = (n + 1, b + envelope)
        for rec in iter_records(PlaintextReader(reader.warc_bytes(row.name)), row.name):
            kind = rec.rec_type
            if kind == "response" and rec.http_status != 200:
                kind = f"response {rec.http_status}"
            n, b = out.get(kind, (0, 0))
            out[kind] = (n + 1, b + rec.pointer.length)
    return out


def _field_costs(app: App, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per record type: `(record)` the mean gzipped bytes of one record, and per field the
    mean gzipped bytes it adds (the record compressed with and without that one line)."""
    import gzip
    import io

    from archiver.vault.io import PlaintextReader
    from archiver.warc.reader import iter_records

    def gz(data: bytes) -> int:
        return len(gzip.compress(data, 9, mtime=0))

    sums: dict[str, dict[str, list[int]]] = {}
    reader = app.warc_reader()
    for name in names:
        data = PlaintextReader(reader.warc_bytes(name)).read()
        for rec in iter_records(io.BytesIO(data), name):
            raw = gzip.decompress(data[rec.pointer.offset:rec.pointer.offset + rec.pointer.length])
            head, _, block = raw.partition(b"\r\n\r\n")
            http_head, sep, body = block.partition(b"\r\n\r\n")
            lines, http_lines = head.split(b"\r\n"), http_head.split(b"\r\n") if sep else []
            whole = gz(raw)
            costs = sums.setdefault(rec.rec_type, {})
            costs.setdefault("(record)", []).append(whole)
            for i, line in enumerate(lines[1:], 1):
                without = b"\r\n".join(lines[:i] + lines[i + 1:]) + b"\r\n\r\n" + block
                costs.setdefault(line.split(b":")[0].decode(), []).append(whole - gz(without))
            # An HTTP block opens with its request or status line; a warcinfo's fields have none.
            first = 0 if rec.rec_type in ("warcinfo", "metadata") else 1
            for i, line in enumerate(http_lines[first:], first):
                without = head + b"\r\n\r\n" + b"\r\n".join(http_lines[:i] + http_lines[i + 1:]) + sep + body
                costs.setdefault("block " + line.split(b":")[0].decode(), []).append(whole - gz(without))
    return {kind: {k: sum(v) / len(v) for k, v in costs.items()} for kind, costs in sums.items()}


def _units(platform: str, requests: list[tuple[str, str]]) -> int:
    model = MODELS.get(platform)
    if model is None:
        return len(requests)
    if platform == "youtube":  # thumbnails come from the CDN, outside the quota
        requests = [(m, u) for m, u in requests if "/youtube/v3/" in u]
    return sum(model.cost(method, url) for method, url in requests)


def bench_platform(platform: str, items: int, workdir: Path, fields: bool = False) -> dict[str, object]:
    sandbox = load_sandbox(platform)
    server = SandboxServer(sandbox.app).start()
    sandbox.bind(server.url)
    seed = sandbox.seed_bulk(items)
    app = App(Settings.model_validate({
        "home": workdir / platform, "district": "Bench School District", "state": "WA",
        "connectors": {platform: {"api_base": server.url, "budget": {"limit": None}}}}))
    create_archive(app)
    token_file = None
    if seed.token:
        token_file = workdir / f"{platform}.token"
        token_file.write_text(seed.token)
        os.chmod(token_file, 0o600)
    account = register_account(app, platform, seed.raw_id, token_file=str(token_file) if token_file else None)
    poller = Poller(app)
    out: dict[str, object] = {"platform": platform}
    try:
        for name in ("first", "idle", "idle2"):
            seen = len(server.requests)
            (report,) = poller.poll(account.label)
            if report.status != "complete":
                raise SystemExit(f"{platform}: {name} cycle did not complete: {report.message}")
            served = [(r.method, server.url + r.path) for r in server.requests[seen:]]
            out[f"{name}_requests"] = len(served)
            out[f"{name}_units"] = _units(platform, served)
            out[f"{name}_bytes"] = _stored_bytes(app, report.warcs)
            out[f"{name}_plan"] = report.plan
            out[f"{name}_breakdown"] = _breakdown(app, report.warcs)
            if name == "idle2" and fields:
                out["fields"] = _field_costs(app, report.warcs)
    finally:
        server.stop()
        app.close()
    first_units, idle_units = int(out["first_units"]), int(out["idle_units"])  # type: ignore[call-overload]
    model = MODELS.get(platform)
    if model is None or model.usable is None:
        out["fit_before"] = out["fit_after"] = "no published limit"
    else:
        start, end = period_bounds(model, datetime.now(UTC))
        cycles = max(1.0, (end - start).total_seconds() / CYCLE_S)
        out["fit_before"] = int(model.usable // max(first_units * cycles, 1))
        out["fit_after"] = int(model.usable // max(idle_units * cycles, 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", choices=sorted(CONNECTORS))
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--breakdown", action="store_true",
                        help="also print what the idle cycle stored, by record type (records, bytes)")
    parser.add_argument("--fields", action="store_true",
                        help="also print the gzipped bytes each field adds to the 2nd idle cycle's records")
    args = parser.parse_args()
    platforms = args.platform or sorted(CONNECTORS)
    print("| platform | first: requests | first: units | first: stored bytes | idle: requests | idle: units "
          "| idle: stored bytes | idle/first requests | idle/first bytes | accounts fit before | after "
          "| 2nd idle: stored bytes | 2nd idle/first bytes |")
    print("| --- | " + " | ".join(["---"] * 12) + " |")
    with tempfile.TemporaryDirectory() as tmp:
        for platform in platforms:
            r = bench_platform(platform, args.items, Path(tmp), args.fields)
            fr, ir = int(r["first_requests"]), int(r["idle_requests"])  # type: ignore[call-overload]
            fb, ib = int(r["first_bytes"]), int(r["idle_bytes"])  # type: ignore[call-overload]
            i2 = int(r["idle2_bytes"])  # type: ignore[call-overload]
            print(f"| {platform} | {fr:,} | {r['first_units']:,} | {fb:,} | {ir:,} | {r['idle_units']:,} | {ib:,} "
                  f"| {ir / max(fr, 1):.1%} | {ib / max(fb, 1):.1%} | {r['fit_before']} | {r['fit_after']} "
                  f"| {i2:,} | {i2 / max(fb, 1):.2%} |", flush=True)
            if args.breakdown:
                for label in ("idle", "idle2"):
                    breakdown = r[f"{label}_breakdown"]
                    parts = ", ".join(f"{k} {n}× {b:,} B" for k, (n, b) in sorted(breakdown.items()))  # type: ignore[attr-defined]
                    print(f"|  | {'idle' if label == 'idle' else '2nd idle'} cycle: {parts} |", flush=True)
            if args.fields:
                for kind, costs in sorted(r["fields"].items()):  # type: ignore[attr-defined]
                    parts = ", ".join(f"{k} {v:.0f}" for k, v in costs.items())
                    print(f"|  | 2nd idle {kind}, gzipped bytes: {parts} |", flush=True)


if __name__ == "__main__":
    main()
