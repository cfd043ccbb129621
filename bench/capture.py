"""Capture throughput of the whole pipeline against the sandboxes, next to warcio alone.

For each platform: a sandbox account with N items is captured once through the real pipeline
(HTTP on loopback -> CaptureSession -> WARC -> local store -> catalog). Then warcio alone
writes the very same request/response payloads to a WARC in the same process. The ratio says
how much of the pipeline's time is WARC writing and how much is everything else.

    python bench/capture.py                      # every platform, 1,000 items each
    python bench/capture.py --platform facebook --items 3000
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from archiver.app import App  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.preservation.rebuild import stored_warc_keys  # noqa: E402
from archiver.sandbox.server import SandboxServer  # noqa: E402
from archiver.services.accounts import register_account  # noqa: E402
from archiver.services.archive_home import create_archive  # noqa: E402
from archiver.services.poll import Poller  # noqa: E402
from archiver.warc.reader import iter_records  # noqa: E402
from connectors import CONNECTORS, load_sandbox  # noqa: E402


def bench_platform(platform: str, items: int, workdir: Path) -> dict[str, float]:
    sandbox = load_sandbox(platform)
    server = SandboxServer(sandbox.app).start()
    sandbox.bind(server.url)
    seed = sandbox.seed_bulk(items)
    home = workdir / platform
    app = App(Settings(home=home, district="Bench School District", state="WA",
                       connectors={platform: {"api_base": server.url, "page_limit": 100}}))
    create_archive(app)
    token_file = None
    if seed.token:
        token_file = workdir / f"{platform}.token"
        token_file.write_text(seed.token)
        os.chmod(token_file, 0o600)
    account = register_account(app, platform, seed.raw_id, token_file=str(token_file) if token_file else None)
    started = time.perf_counter()
    report = next(iter(Poller(app).poll(account.label)))
    pipeline_s = time.perf_counter() - started
    server.stop()
    if report.status != "complete":
        raise SystemExit(f"{platform}: capture did not complete: {report.message}")

    # warcio alone, same payloads, same process.
    records = []
    for key in stored_warc_keys(app):  # decrypted through the vault, as every reader does
        name = key.rsplit("/", 1)[-1].removesuffix(".enc")
        plain = io.BytesIO(b"".join(app.warc_reader().warc_bytes(name)))
        records.extend(r for r in iter_records(plain, name) if r.rec_type in ("request", "response"))
    started = time.perf_counter()
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    for r in records:
        if r.rec_type == "response":
            http = StatusAndHeaders(f"{r.http_status} OK", list(r.http_headers), protocol="HTTP/1.1")
        else:
            http = StatusAndHeaders("GET / HTTP/1.1", list(r.http_headers), is_http_request=True)
        writer.write_record(writer.create_warc_record(r.target_uri, r.rec_type, payload=io.BytesIO(r.body),
                                                      http_headers=http))
    warcio_s = time.perf_counter() - started
    app.close()
    exchanges = report.exchanges
    captured = report.new
    return {
        "items": captured,
        "exchanges": exchanges,
        "requests_per_item": exchanges / max(captured, 1),
        "pipeline_s": pipeline_s,
        "pipeline_ex_per_s": exchanges / pipeline_s,
        "warcio_ex_per_s": (len(records) / 2) / warcio_s,
        "ratio": (exchanges / pipeline_s) / ((len(records) / 2) / warcio_s),
        "harvest_s": report.timings.get("harvest", 0.0),
        "store_s": report.timings.get("store", 0.0),
        "index_s": report.timings.get("index", 0.0),
        "warcio_s": warcio_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", help="platform (repeatable); default: all")
    parser.add_argument("--items", type=int, default=1000, help="items in the benchmark account")
    args = parser.parse_args()
    platforms = args.platform or sorted(CONNECTORS)
    print(f"{'platform':<10} {'items':>6} {'requests':>8} {'req/item':>8} {'capture s':>9} "
          f"{'harvest':>7} {'store':>6} {'index':>6} {'warcio s':>8} "
          f"{'pipeline ex/s':>13} {'warcio ex/s':>11} {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        for platform in platforms:
            r = bench_platform(platform, args.items, Path(tmp))
            print(f"{platform:<10} {r['items']:>6.0f} {r['exchanges']:>8.0f} {r['requests_per_item']:>8.3f} "
                  f"{r['pipeline_s']:>9.2f} {r['harvest_s']:>7.2f} {r['store_s']:>6.2f} {r['index_s']:>6.2f} "
                  f"{r['warcio_s']:>8.3f} {r['pipeline_ex_per_s']:>13.0f} {r['warcio_ex_per_s']:>11.0f} "
                  f"{r['ratio']:>6.3f}")


if __name__ == "__main__":
    main()
