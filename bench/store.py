"""What encryption and verified storage add to writing WARCs, and whether memory stays flat.

(a) warcio alone writes N request/response pairs (~2 KB JSON bodies) to a .warc.gz and fsyncs.
(b) the same exchanges through our pipeline pieces: the WarcFile writer in the spool (sha256
    digests, hashing on the way to disk), seal (fsync + rename), Outbox.encrypt (AES-256-GCM
    segments, fsync, plaintext removed), the ciphertext sha256 Outbox.ship computes, and
    LocalFolderStore.put_file (copy while hashing, fsync, verify, hard link, sidecar).
(a) and (b) alternate for --repeats rounds; medians are reported. The catalog indexing that
follows in Outbox.ship is not part of (b) (bench/capture.py covers the whole capture).

Then a child process encrypts and stores one large WARC-like file (--big-mb; real gzip WARC
members repeated) and reports its peak RSS growth: memory must not grow with the file.

    python bench/store.py                                # 20,000 pairs, 3 rounds, 1 GiB big file
    python bench/store.py --pairs 50000 --repeats 5 --big-mb 2048
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

MIB = 1 << 20
WORDS = ("district", "school", "board", "meeting", "lunch", "menu", "bus", "route", "concert", "game",
         "science", "fair", "parent", "teacher", "conference", "weather", "closure", "update", "art",
         "library", "volunteer", "field", "trip", "graduation", "ceremony", "schedule", "gym")
REQUEST_HEADERS = [("Host", "graph.facebook.com"), ("User-Agent", "district-social-archiver/0.1"),
                   ("Accept", "application/json"), ("Accept-Encoding", "gzip, deflate")]
RESPONSE_HEADERS = [("Content-Type", "application/json; charset=UTF-8"), ("Cache-Control", "private"),
                    ("X-App-Usage", '{"call_count":1,"total_cputime":1,"total_time":1}'),
                    ("X-FB-Request-ID", "AbCdEfGhIjKlMnOp"), ("Date", "Mon, 23 Nov 2026 01:00:00 GMT")]


def make_exchanges(n: int, seed: int = 1) -> list[tuple[str, bytes]]:
    """N (url, ~2 KB JSON body) pairs, like a page of posts with comments."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        doc: dict[str, object] = {"id": f"1000001_{3000000 + i}", "created_time": "2026-11-20T15:04:05+0000",
                                  "from": {"name": "Lincoln High School", "id": "1000001"},
                                  "permalink_url": f"https://www.facebook.com/1000001/posts/{3000000 + i}"}
        comments = []
        while len(json.dumps(doc | {"comments": comments})) < 1900:
            comments.append({"id": f"{i}_{len(comments)}", "message": " ".join(rng.choices(WORDS, k=12))})
        doc["message"] = " ".join(rng.choices(WORDS, k=20))
        doc["comments"] = {"data": comments}
        out.append((f"https://graph.facebook.com/v21.0/1000001_{3000000 + i}?fields=message,comments",
                    json.dumps(doc).encode()))
    return out


def warcio_alone(path: Path, exchanges: list[tuple[str, bytes]]) -> float:
    """(a): warcio with its defaults (sha1 digests), gzip per record, fsync at the end."""
    t0 = time.perf_counter()
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="1.1")
        for url, body in exchanges:
            resp = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body),
                http_headers=StatusAndHeaders("200 OK", list(RESPONSE_HEADERS), protocol="HTTP/1.1"))
            req = writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""),
                http_headers=StatusAndHeaders(f"GET {url[26:]} HTTP/1.1", list(REQUEST_HEADERS),
                                              is_http_request=True))
            req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID"))
            writer.write_record(resp)
            writer.write_record(req)
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t0


def pipeline(app, exchanges: list[tuple[str, bytes]], round_no: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """(b): writer + seal, encrypt, ciphertext sha256, put_file; seconds per stage."""
    from archiver.preservation.outbox import Outbox, _sha256_file, warc_key
    from archiver.warc.writer import HttpMessage, WarcFile, warc_name

    now = datetime.now(UTC)
    name = warc_name(f"facebook-1000001-r{round_no}", now)
    t0 = time.perf_counter()
    warc = WarcFile(app.settings.spool_dir, name, {"archiver-platform": "facebook",
                                                   "archiver-account": "1000001"}, now=now)
    for url, body in exchanges:
        warc.write_exchange(url, HttpMessage(f"GET {url[26:]} HTTP/1.1", REQUEST_HEADERS),
                            HttpMessage("200 OK", RESPONSE_HEADERS, body), when=now)
    sealed = warc.seal()
    t1 = time.perf_counter()
    enc = Outbox(app).encrypt(sealed.path)
    t2 = time.perf_counter()
    digest = _sha256_file(enc)
    t3 = time.perf_counter()
    app.store.put_file(warc_key("facebook", "1000001", name), enc, sha256=digest)
    t4 = time.perf_counter()
    enc.unlink()
    return {"writer_seal": t1 - t0, "encrypt": t2 - t1, "sha256": t3 - t2, "put_file": t4 - t3,
            "total": t4 - t0, "warc_bytes": sealed.size}


def _peak_rss_kib() -> int:
    """Peak RSS of this process image. /proc's VmHWM, because Linux carries ru_maxrss across
    exec, so a child would inherit the parent's peak as its own baseline."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def big_child(workdir: Path) -> dict[str, float]:
    """Child side of the memory run: encrypt + hash + store one large file, flat memory."""
    from archiver.app import App
    from archiver.core.settings import Settings
    from archiver.preservation.outbox import Outbox, _sha256_file, warc_key
    from archiver.services.archive_home import create_archive, init_key_file

    app = App(Settings(home=workdir / "big-home"))
    create_archive(app)
    init_key_file(app)  # the parent made the home (its spool) but no key file
    outbox, store = Outbox(app), app.store
    _ = app.keys
    plain = app.settings.spool_dir / "facebook-1000001-big.warc.gz"
    size = plain.stat().st_size
    baseline = _peak_rss_kib()
    t0 = time.perf_counter()
    enc = outbox.encrypt(plain)
    digest = _sha256_file(enc)
    store.put_file(warc_key("facebook", "1000001", plain.name), enc, sha256=digest)
    seconds = time.perf_counter() - t0
    peak = _peak_rss_kib()
    return {"bytes": size, "seconds": seconds, "baseline_kib": baseline, "peak_kib": peak}


def make_big_warc(path: Path, size: int, exchanges: list[tuple[str, bytes]]) -> int:
    """A real gzip-per-record WARC chunk repeated to `size` bytes (valid WARC framing)."""
    chunk = path.with_suffix(".chunk")
    warcio_alone(chunk, exchanges)
    data = chunk.read_bytes()
    chunk.unlink()
    written = 0
    with open(path, "wb") as out:
        while written < size:
            out.write(data)
            written += len(data)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=20_000, help="request/response pairs (default 20,000)")
    p.add_argument("--repeats", type=int, default=3, help="alternating rounds of (a) and (b) (default 3)")
    p.add_argument("--big-mb", type=int, default=1024, help="size of the memory run in MiB; 0 skips it")
    p.add_argument("--dir", default=None, help="scratch folder (default: system temp)")
    p.add_argument("--phase", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase == "big":
        print(json.dumps(big_child(Path(args.workdir))))
        return

    from archiver.app import App
    from archiver.core.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="store-bench-", dir=args.dir))
    try:
        exchanges = make_exchanges(args.pairs)
        body_kb = statistics.mean(len(b) for _, b in exchanges) / 1000
        from archiver.services.archive_home import create_archive

        app = App(Settings(home=work / "home"))
        create_archive(app)
        _ = app.keys, app.store
        a_runs, b_runs = [], []
        for n in range(args.repeats):
            a_path = work / f"warcio-{n}.warc.gz"
            a_runs.append((warcio_alone(a_path, exchanges), a_path.stat().st_size))
            a_path.unlink()
            b_runs.append(pipeline(app, exchanges, n))
        app.close()
        a_s = statistics.median(s for s, _ in a_runs)
        a_bytes = a_runs[0][1]
        b = {k: statistics.median(r[k] for r in b_runs) for k in b_runs[0]}
        extra = b["encrypt"] + b["sha256"] + b["put_file"]
        print(f"store bench: {args.pairs:,} request/response pairs, {body_kb:.2f} KB JSON bodies, "
              f"median of {args.repeats} rounds, scratch {work}")
        print(f"{'':<40}{'seconds':>9}{'MiB/s':>9}{'pairs/s':>10}")
        for label, nbytes, seconds in (
            (f"(a) warcio alone ({a_bytes / MIB:.1f} MiB WARC)", a_bytes, a_s),
            (f"(b) our pipeline ({b['warc_bytes'] / MIB:.1f} MiB WARC)", b["warc_bytes"], b["total"]),
        ):
            print(f"{label:<40}{seconds:>9.3f}{nbytes / MIB / seconds:>9.1f}{args.pairs / seconds:>10,.0f}")
        for label, key in (("    WarcFile writer + seal", "writer_seal"), ("    Outbox.encrypt", "encrypt"),
                           ("    ciphertext sha256 (as ship)", "sha256"),
                           ("    LocalFolderStore.put_file", "put_file")):
            print(f"{label:<40}{b[key]:>9.3f}{b[key] / b['total'] * 100:>8.1f}%")
        print(f"overhead of (b) over (a):                        {(b['total'] / a_s - 1) * 100:+.1f}%")
        print(f"  of which our writer over warcio alone:         {(b['writer_seal'] / a_s - 1) * 100:+.1f}%")
        print(f"  of which encrypt + verified store over (a):    {extra / a_s * 100:+.1f}%")
        print(f"encrypt + verified store over our writer+seal:   {extra / b['writer_seal'] * 100:+.1f}%"
              "  (goal: <= 5%)")

        if args.big_mb:
            home = work / "big-home"
            spool = home / "spool"
            spool.mkdir(parents=True)
            size = make_big_warc(spool / "facebook-1000001-big.warc.gz", args.big_mb * MIB, exchanges[:2000])
            done = subprocess.run([sys.executable, __file__, "--phase", "big", "--workdir", str(work)],
                                  check=True, capture_output=True, text=True)
            r = json.loads(done.stdout)
            growth = (r["peak_kib"] - r["baseline_kib"]) / 1024
            print(f"\nlarge file: {size / MIB:,.0f} MiB WARC-like file encrypted, hashed and stored in "
                  f"{r['seconds']:.2f} s ({size / MIB / r['seconds']:.0f} MiB/s)")
            print(f"  peak RSS {r['peak_kib'] / 1024:.1f} MiB; growth during encrypt + store "
                  f"{growth:.1f} MiB (baseline {r['baseline_kib'] / 1024:.1f} MiB after imports)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
