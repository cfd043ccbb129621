"""Export of a 100-item public records request whose records are spread over large stored WARCs.

    python bench/export_bench.py                 # 1 GB of stored WARCs (quick)
    python bench/export_bench.py --total-gb 5    # the issue's figure: RSS must stay flat

A synthetic archive is generated first: encrypted WARCs in the local store (mostly filler media
records of random bytes, so the objects really are that large) with 100 responsive items
(20 posts x 5 comments... threads, some edited, some deleted with evidence) placed evenly
through them, and the catalog rows that point at them. The export then runs in a fresh child
process, so its peak RSS (getrusage ru_maxrss) is its own; "growth" is peak RSS minus the RSS
after imports. The export reads only the AEAD segments holding the responsive records.
Times: wall clock, and CPU time of the export process (the machine is shared, so CPU time is
the steadier figure); per-stage figures are CPU time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ITEMS = 100
FILLER = 4 << 20  # bytes per filler media record
MIB = 1 << 20


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _stored_member(record_bytes: bytes) -> bytes:
    """One gzip member, stored blocks: random filler does not compress, and level 0 is fast."""
    c = zlib.compressobj(0, zlib.DEFLATED, 31)
    return c.compress(record_bytes) + c.flush()


def generate(home: Path, total_gb: float) -> dict[str, float]:
    from warcio.statusandheaders import StatusAndHeaders

    from archiver.app import App
    from archiver.catalog import tables as t
    from archiver.core.settings import Settings
    from archiver.preservation.outbox import vault_context, warc_key
    from archiver.services.archive_home import create_archive
    from archiver.services.keys import init_export_key
    from archiver.vault import encrypt_file
    from archiver.warc.writer import SpecWARCWriter, warc_date

    started = time.perf_counter()
    app = App(Settings(home=home))
    create_archive(app)  # catalog and key file first: commands refuse a home without an archive
    init_export_key(app)
    files = max(1, round(total_gb * 1e9 / 1e9))  # ~1 GB objects, as the writer rolls them
    per_file = int(total_gb * 1e9 / files)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with app.catalog.session() as s:
        account = t.Account(platform="facebook", account_id="1000001", name="Bench High School",
                            role="school", created_at=now)
        s.add(account)
        s.flush()
        account_pk = account.id
        s.commit()
    # which item goes where: posts 0..19, each with comments; spread evenly over the files
    plan = []
    for n in range(ITEMS):
        post = n // 5
        kind = "post" if n % 5 == 0 else "comment"
        item_id = f"1000001_{500000 + post}" if kind == "post" else f"{500000 + post}_{700000 + n}"
        parent = None if kind == "post" else f"1000001_{500000 + post}"
        plan.append((n, item_id, kind, parent))
    rows = []
    spool = home / "bench-spool"
    spool.mkdir(parents=True, exist_ok=True)
    slots = {f: [p for p in plan if p[0] % files == f] for f in range(files)}
    for f in range(files):
        name = f"facebook-1000001-{20261130120000 + f:017d}-00000bench-bench.warc.gz"
        path = spool / name
        when = now + timedelta(hours=f)
        placed = slots[f]
        gap = max(1, (per_file // FILLER) // (len(placed) + 1))
        with open(path, "wb") as fh:
            writer = SpecWARCWriter(fh, gzip=True, warc_version="1.1")
            info = writer.create_warcinfo_record(name, {"archiver-platform": "facebook",
                                                        "archiver-account": "1000001",
                                                        "archiver-run": f"bench-run-{f}"})
            writer.write_record(info)
            raw = SpecWARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")
            fillers = 0
            queue = list(placed)
            while fh.tell() < per_file or queue:
                if queue and fillers % gap == gap - 1 or (queue and fh.tell() >= per_file):
                    n, item_id, kind, parent = queue.pop(0)
                    versions = 2 if n % 10 == 3 else 1
                    for v in range(1, versions + 1):
                        body = json.dumps({"data": [{"id": item_id, "message": f"Bench {kind} {n} v{v}: "
                                                     + "the bus contract " * 40,
                                                     "created_time": warc_date(now - timedelta(days=n)),
                                                     "from": {"name": f"Parent {n}", "id": str(900000 + n)}}]}).encode()
                        url = f"https://graph.facebook.com/v21.0/{parent or '1000001'}/{'comments' if parent else 'feed'}?after={n}-{v}"
                        date_v = warc_date(when + timedelta(minutes=v))
                        resp = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=None,
                                                         warc_headers_dict={"WARC-Date": date_v},
                                                         http_headers=StatusAndHeaders("200 OK", [("Content-Type", "application/json")], protocol="HTTP/1.1"))
                        req = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), length=None,
                                                        warc_headers_dict={"WARC-Date": date_v},
                                                        http_headers=StatusAndHeaders(f"GET {url} HTTP/1.1", [("Host", "graph.facebook.com")], is_http_request=True))
                        req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID"))
                        offset = fh.tell()
                        writer.write_record(resp)
                        length = fh.tell() - offset
                        writer.write_record(req)
                        rows.append(("version", name, n, item_id, kind, parent, v, offset, length,
                                     resp.rec_headers.get_header("WARC-Record-ID"), date_v, body))
                        if v > 1:  # the archiver's conclusion, at the end of this (small) cycle
                            fields = f"archiver-observation: edited\r\nitem-id: {item_id}\r\n".encode()
                            meta = writer.create_warc_record(
                                "", "metadata", payload=io.BytesIO(fields), length=len(fields),
                                warc_content_type="application/warc-fields",
                                warc_headers_dict={"WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID")})
                            meta.rec_headers.remove_header("WARC-Target-URI")
                            writer.write_record(meta)
                    if n % 25 == 7:  # deleted: the 404 and the archiver's conclusion
                        url = f"https://graph.facebook.com/v21.0/{item_id}"
                        body = b'{"error":{"code":100,"error_subcode":33}}'
                        resp = writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=None,
                                                         http_headers=StatusAndHeaders("404 Not Found", [("Content-Type", "application/json")], protocol="HTTP/1.1"))
                        req = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), length=None,
                                                        http_headers=StatusAndHeaders(f"GET {url} HTTP/1.1", [], is_http_request=True))
                        req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID"))
                        offset = fh.tell()
                        writer.write_record(resp)
                        length = fh.tell() - offset
                        writer.write_record(req)
                        fields = f"archiver-observation: deleted\r\nitem-id: {item_id}\r\n".encode()
                        meta = writer.create_warc_record("", "metadata", payload=io.BytesIO(fields), length=len(fields),
                                                         warc_content_type="application/warc-fields",
                                                         warc_headers_dict={"WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID")})
                        meta.rec_headers.remove_header("WARC-Target-URI")
                        writer.write_record(meta)
                        rows.append(("deletion", name, n, item_id, kind, parent, 0, offset, length,
                                     resp.rec_headers.get_header("WARC-Record-ID"),
                                     meta.rec_headers.get_header("WARC-Record-ID"), b""))
                    continue
                buf = io.BytesIO()
                raw.out = buf
                url = f"https://scontent.example/{f}/{fillers}.mp4"
                record = raw.create_warc_record(url, "response", payload=io.BytesIO(os.urandom(FILLER)), length=FILLER,
                                                http_headers=StatusAndHeaders("200 OK", [("Content-Type", "video/mp4")], protocol="HTTP/1.1"))
                raw.write_record(record)  # type: ignore[arg-type]
                fh.write(_stored_member(buf.getvalue()))
                fillers += 1
        enc = path.with_name(name + ".enc")
        info_enc = encrypt_file(path, enc, app.keys, context=vault_context(name))
        size = path.stat().st_size
        path.unlink()
        key = warc_key("facebook", "1000001", name)
        stored = app.store.put_file(key, enc, sha256=info_enc.ciphertext_sha256)
        enc.unlink()
        with app.catalog.session() as s:
            s.add(t.WarcFile(name=name, run_id=f"bench-run-{f}", account_pk=account_pk, size=size,
                             sha256=info_enc.plaintext_sha256, records=0, first_date=when, last_date=when,
                             store_key=key, stored_at=now, object_size=stored.size,
                             object_sha256=info_enc.ciphertext_sha256, key_id=info_enc.key_id,
                             wrapped_key=info_enc.wrapped_key))
            s.commit()
    with app.catalog.session() as s:
        items: dict[str, t.Item] = {}
        for kind_row, name, n, item_id, kind, parent, v, offset, length, rid, extra, body in rows:
            item = items.get(item_id)
            if item is None:
                item = items[item_id] = t.Item(account_pk=account_pk, platform="facebook", item_id=item_id,
                                               kind=kind, parent_id=parent, created_at=now - timedelta(days=n),
                                               first_seen_at=now, last_seen_at=now)
                s.add(item)
                s.flush()
            if kind_row == "version":
                observed = datetime.fromisoformat(extra.replace("Z", "+00:00"))
                version = t.ItemVersion(item_pk=item.id, version_no=v, content_sha256=hashlib.sha256(body).hexdigest(),
                                        content={}, media=[], text=json.loads(body)["data"][0]["message"],
                                        author=f"Parent {n}", url="", observed_at=observed, warc_file=name,
                                        warc_offset=offset, warc_length=length, warc_record_id=rid)
                s.add(version)
                s.flush()
                s.add(t.Observation(run_id=f"bench-{name}-{v}", item_pk=item.id, version_pk=version.id,
                                    observed_at=observed, warc_file=name, warc_offset=offset, warc_length=length))
            else:
                s.add(t.Tombstone(item_pk=item.id, detected_at=now + timedelta(days=1), reason="deleted",
                                  detail="", evidence_file=name, evidence_offset=offset, evidence_length=length,
                                  evidence_record_id=rid, metadata_record_id=extra, last_good_record_id=""))
                item.deleted_at = now + timedelta(days=1)
        s.commit()
    shutil.rmtree(spool, ignore_errors=True)
    app.close()
    stored_bytes = sum(p.stat().st_size for p in (home / "store").rglob("*.enc"))
    return {"generate_s": round(time.perf_counter() - started, 1), "stored_gb": round(stored_bytes / 1e9, 2),
            "files": files}


def export_child(home: Path, out: Path) -> dict[str, float]:
    from sqlalchemy import select

    import archiver.requests.package.build as build
    from archiver.app import App
    from archiver.catalog import tables as t
    from archiver.core.settings import Settings
    from archiver.requests.package.model import ExportRequest

    base = _rss_kib()
    stages: dict[str, float] = {}
    for name in ("gather", "copy_records", "write_pdf", "write_indexes", "write_wacz", "make_bag", "sign_bag"):
        real = getattr(build, name)

        def timed(*a, _real=real, _name=name, **k):  # type: ignore[no-untyped-def]
            t0 = time.process_time()
            try:
                return _real(*a, **k)
            finally:
                stages[_name] = round(time.process_time() - t0, 3)

        setattr(build, name, timed)
    app = App(Settings(home=home))
    with app.catalog.session() as s:
        ids = tuple(s.scalars(select(t.Item.item_id).order_by(t.Item.id)))
    req = ExportRequest("PRR-BENCH-1", "Bench Requester", date(2026, 12, 1), date(2026, 12, 8),
                        "Every comment about the bus contract", "WA", "Bench School District",
                        ids, (), (), ("bus contract",))
    started, cpu = time.perf_counter(), time.process_time()
    summary = build.build_package(app, req, out)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _rss_kib()
    return {"items": summary.items, "records": summary.records, "warc_mb": round(summary.warc_bytes / 1e6, 2),
            "export_wall_s": round(seconds, 2), "export_cpu_s": round(cpu, 2),
            "stages_cpu_s": stages,  # type: ignore[dict-item]
            "peak_rss_mib": round(peak / 1024, 1), "growth_mib": round((peak - base) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total-gb", type=float, default=1.0, help="stored WARC bytes to spread the records over")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the generated archive")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(export_child(Path(args.child[0]), Path(args.child[1]))))
        return
    root = Path(tempfile.mkdtemp(prefix="export-bench-"))
    try:
        home = root / "home"
        made = generate(home, args.total_gb)
        run = subprocess.run([sys.executable, __file__, "--child", str(home), str(root / "package")],
                             capture_output=True, text=True, check=True)
        result = {**made, **json.loads(run.stdout.strip().splitlines()[-1])}
        print(json.dumps(result, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
