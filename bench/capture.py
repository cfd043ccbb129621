"""Capture cost of the whole pipeline against the sandboxes, next to an httpx+warcio floor.

For each platform: a sandbox account with N items (the sandbox in a process of its own) is
captured once through the real pipeline (HTTP on loopback -> CaptureSession -> WARC -> seal ->
encrypt -> local store -> catalog). Then the floor: the same exchanges are served by a canned
server in another process (each response's status, headers and body as captured) and fetched
with one httpx client, each written as a request + response record pair by warcio alone.

The ratio (issue 13) is CPU per exchange, not wall time (the machine is shared):

    ratio = floor CPU per exchange / pipeline CPU per exchange

where both CPUs are `time.process_time()` of this process only (the sandbox and the canned
server run in other processes), so 1.0 means the pipeline costs no more than fetching and
writing the exchanges, and 0.5 that it costs twice that. The old wall-clock figure (pipeline
exchanges per second over warcio-alone exchanges per second) is printed beside it.

    python bench/capture.py                      # every platform, 1,000 items each
    python bench/capture.py --platform facebook --items 3000
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from archiver.app import App  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.preservation.rebuild import stored_warc_keys  # noqa: E402
from archiver.services.accounts import register_account  # noqa: E402
from archiver.services.archive_home import create_archive  # noqa: E402
from archiver.services.poll import Poller  # noqa: E402
from archiver.warc.reader import Record, iter_records  # noqa: E402

_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def _serve_sandbox(platform: str, items: int, out: Any, stop: Any) -> None:
    from archiver.sandbox.server import SandboxServer
    from connectors import load_sandbox

    sandbox = load_sandbox(platform)
    server = SandboxServer(sandbox.app).start()
    sandbox.bind(server.url)
    seed = sandbox.seed_bulk(items)
    out.put((server.url, seed.raw_id, seed.token))
    stop.wait()
    server.stop()


def _serve_canned(responses: dict[tuple[str, str, bytes], tuple[int, list[tuple[str, str]], bytes]],
                  out: Any, stop: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            sent = self.rfile.read(length) if length else b""
            status, headers, body = responses.get((self.command, self.path, sent), (404, [], b""))
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in _HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815 - stdlib names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    out.put(f"http://127.0.0.1:{server.server_address[1]}")
    stop.wait()
    server.shutdown()


def _exchanges(records: list[Record]) -> list[tuple[Record, Record]]:
    """(request, response) pairs in capture order; a revisit stands for its original's body."""
    by_id = {r.pointer.record_id: r for r in records if r.rec_type in ("response", "revisit")}
    pairs = []
    for r in records:
        if r.rec_type == "request":
            response = by_id.get(r.headers.get("WARC-Concurrent-To", ""))
            if response is not None:
                pairs.append((r, response))
    return pairs


def floor(pairs: list[tuple[Record, Record]]) -> tuple[float, float, int]:
    """CPU and wall seconds of httpx GET (or POST) + warcio write for every exchange."""
    ctx = mp.get_context("fork")
    canned: dict[tuple[str, str, bytes], tuple[int, list[tuple[str, str]], bytes]] = {}
    asks: list[tuple[str, str, bytes]] = []
    for request, response in pairs:
        parts = urlsplit(request.target_uri)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        method = request.headers.get("X-Archiver-Request-Method") or "GET"
        canned[(method, path, request.body)] = (response.http_status or 200, list(response.http_headers),
                                                response.body)
        asks.append((method, path, request.body))
    out, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve_canned, args=(canned, out, stop))
    proc.start()
    base = out.get(timeout=60)
    client = httpx.Client(timeout=30)
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for method, path, sent in asks:
        url = base + path
        got = client.request(method, url, content=sent or None)
        body = got.content
        http = StatusAndHeaders(f"{got.status_code} {got.reason_phrase}",
                                list(got.headers.multi_items()), protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                      http_headers=http))
        req = StatusAndHeaders(f"{method} {path} HTTP/1.1", list(got.request.headers.multi_items()),
                               is_http_request=True)
        writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(sent), http_headers=req))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    client.close()
    stop.set()
    proc.join(timeout=30)
    return cpu, wall, len(asks)


def bench_platform(platform: str, items: int, workdir: Path) -> dict[str, float]:
    ctx = mp.get_context("fork")
    out, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve_sandbox, args=(platform, items, out, stop))
    proc.start()
    url, raw_id, token = out.get(timeout=600)
    home = workdir / platform
    app = App(Settings(home=home, district="Bench School District", state="WA",
                       connectors={platform: {"api_base": url, "page_limit": 100}}))
    create_archive(app)
    token_file = None
    if token:
        token_file = workdir / f"{platform}.token"
        token_file.write_text(token)
        os.chmod(token_file, 0o600)
    account = register_account(app, platform, raw_id, token_file=str(token_file) if token_file else None)
    cpu0, started = time.process_time(), time.perf_counter()
    report = next(iter(Poller(app).poll(account.label)))
    pipeline_s = time.perf_counter() - started
    pipeline_cpu = time.process_time() - cpu0
    stop.set()
    proc.join(timeout=60)
    if report.status != "complete":
        raise SystemExit(f"{platform}: capture did not complete: {report.message}")

    records: list[Record] = []
    for key in stored_warc_keys(app):  # decrypted through the vault, as every reader does
        name = key.rsplit("/", 1)[-1].removesuffix(".enc")
        plain = io.BytesIO(b"".join(app.warc_reader().warc_bytes(name)))
        records.extend(r for r in iter_records(plain, name) if r.rec_type in ("request", "response", "revisit"))
    pairs = _exchanges(records)

    # warcio alone, same payloads, same process (the earlier wall-clock comparison).
    started = time.perf_counter()
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
    for request, response in pairs:
        http = StatusAndHeaders(f"{response.http_status} OK", list(response.http_headers), protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(response.target_uri, "response",
                                                      payload=io.BytesIO(response.body), http_headers=http))
        req = StatusAndHeaders("GET / HTTP/1.1", list(request.http_headers), is_http_request=True)
        writer.write_record(writer.create_warc_record(request.target_uri, "request",
                                                      payload=io.BytesIO(request.body), http_headers=req))
    warcio_s = time.perf_counter() - started
    floor_cpu, floor_wall, floor_n = floor(pairs)
    app.close()
    exchanges = report.exchanges
    captured = report.new
    pipeline_cpu_ex = pipeline_cpu / max(exchanges, 1)
    floor_cpu_ex = floor_cpu / max(floor_n, 1)
    return {
        "items": captured,
        "exchanges": exchanges,
        "requests_per_item": exchanges / max(captured, 1),
        "pipeline_s": pipeline_s,
        "pipeline_cpu_s": pipeline_cpu,
        "pipeline_cpu_ms_ex": pipeline_cpu_ex * 1000,
        "floor_cpu_ms_ex": floor_cpu_ex * 1000,
        "floor_exchanges": floor_n,
        "cpu_ratio": floor_cpu_ex / pipeline_cpu_ex if pipeline_cpu_ex else 0.0,
        "pipeline_ex_per_s": exchanges / pipeline_s,
        "warcio_ex_per_s": len(pairs) / warcio_s,
        "ratio": (exchanges / pipeline_s) / (len(pairs) / warcio_s),
        "harvest_s": report.timings.get("harvest", 0.0),
        "store_s": report.timings.get("store", 0.0),
        "index_s": report.timings.get("index", 0.0),
        "warcio_s": warcio_s,
        "floor_wall_s": floor_wall,
    }


def main() -> None:
    from connectors import CONNECTORS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", help="platform (repeatable); default: all")
    parser.add_argument("--items", type=int, default=1000, help="items in the benchmark account")
    args = parser.parse_args()
    platforms = args.platform or sorted(CONNECTORS)
    print(f"{'platform':<10} {'items':>6} {'requests':>8} {'capture s':>9} {'cpu s':>6} "
          f"{'harvest':>7} {'store':>6} {'index':>6} {'pipe ms/ex':>10} {'floor ms/ex':>11} "
          f"{'CPU ratio':>9} {'wall ratio':>10}")
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        for platform in platforms:
            r = bench_platform(platform, args.items, Path(tmp))
            print(f"{platform:<10} {r['items']:>6.0f} {r['exchanges']:>8.0f} {r['pipeline_s']:>9.2f} "
                  f"{r['pipeline_cpu_s']:>6.2f} {r['harvest_s']:>7.2f} {r['store_s']:>6.2f} {r['index_s']:>6.2f} "
                  f"{r['pipeline_cpu_ms_ex']:>10.2f} {r['floor_cpu_ms_ex']:>11.2f} {r['cpu_ratio']:>9.3f} "
                  f"{r['ratio']:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
