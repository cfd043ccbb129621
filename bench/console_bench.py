"""Server time, time to first byte, full load and SQL queries per page of the web console.

The console is served by uvicorn on 127.0.0.1 (as `archiver serve` does) over an existing
archive, typically a synthetic one (bench/synthetic.py), and each page is fetched by httpx
as a signed-in records officer: a warm-up, then `--runs` timed fetches; medians are printed.

- server ms: from the request entering the ASGI app to its last body part being handed over;
- server CPU ms: this process's CPU time over the same span (user + system, every thread: the
  server's, and the client's, which is waiting then), the figure that load from other programs
  on the machine inflates least;
- TTFB ms / full ms: at the client, until the response headers / the whole body;
- queries: SQL statements the page ran (a SQLAlchemy before_cursor_execute listener).

    python bench/synthetic.py --home /tmp/synth --items 100000 --json > /tmp/synth.json
    python bench/console_bench.py --home /tmp/synth --summary /tmp/synth.json
    python bench/console_bench.py --home /tmp/tiny --build 2000     # build a small one first
    python bench/console_bench.py --home /tmp/s1m-copy --pages filters --holds   # issue 15's last gaps

`--holds` writes three holds (everything; one account; one month) straight into the catalog
when it has none, without touching the store's legal holds: use it on a copy only.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from archiver.app import App  # noqa: E402
from archiver.catalog import tables as t  # noqa: E402
from archiver.core.settings import Settings  # noqa: E402
from archiver.services import users  # noqa: E402
from archiver.web.app import asgi  # noqa: E402

PASSWORD = "benchmark password 1"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Timed:
    """ASGI wrapper: server time of the last request, and the SQL count during it."""

    def __init__(self, app: Any) -> None:
        self.app, self.ms, self.cpu_ms, self.queries = app, 0.0, 0.0, 0
        self.counting = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, cpu, self.counting = time.perf_counter(), _cpu(), 0

        async def timed_send(message: Any) -> None:
            # Taken as the last body part is handed over, not after: the client may have read
            # the response (and taken the figures of the request before) by then.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.ms = (time.perf_counter() - start) * 1000
                self.cpu_ms = (_cpu() - cpu) * 1000
                self.queries = self.counting
            await send(message)

        await self.app(scope, receive, timed_send)


def _samples(app: App, summary: dict[str, Any] | None) -> dict[str, str]:
    if summary and summary.get("sample_items"):
        return {k: v.split(":", 1)[-1] for k, v in summary["sample_items"].items()}
    with app.catalog.session() as s:
        first = s.scalar(select(t.Item.item_id).where(t.Item.kind == "post").order_by(t.Item.id).limit(1))
        edited = s.scalar(select(t.Item.item_id).join(t.ItemVersion, t.ItemVersion.item_pk == t.Item.id)
                          .where(t.ItemVersion.version_no == 2).limit(1))
        deleted = s.scalar(select(t.Item.item_id).where(t.Item.deleted_at.is_not(None)).limit(1))
    return {k: v for k, v in (("first", first), ("edited", edited), ("deleted", deleted)) if v}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --pages filters: the filtered searches, /accounts and /holds (issue 15's last measured gaps)
FILTER_PAGES = [("/search, comment + kind=comment + deleted (10,000)", "/search?q=comment&kind=comment&deleted=1"),
                ("/search, comment + author=nobody (0)", "/search?q=comment&author=nobody"),
                ("/search, post + author=elementary (100,000 posts)", "/search?q=post&author=elementary"),
                ("/accounts", "/accounts"), ("/accounts?page=5", "/accounts?page=5"), ("/holds", "/holds")]


def _add_holds(app: App) -> None:
    """Three holds as rows only (no legal hold in the store): everything, the first account,
    one month of everyone's items."""
    from datetime import UTC, datetime

    from archiver.catalog import retention_tables as rt

    with app.catalog.session() as s:
        if s.scalar(select(func.count()).select_from(rt.Hold)):
            return
        first = s.scalars(select(t.Account).order_by(t.Account.id).limit(1)).one()
        now = datetime.now(UTC)
        for reason, scope in (("bench: everything", {}), ("bench: one account", {"account": first.label}),
                              ("bench: one month", {"since": datetime(2025, 11, 1, tzinfo=UTC),
                                                    "until": datetime(2025, 11, 30, 23, 59, 59, tzinfo=UTC)})):
            s.add(rt.Hold(kind="litigation", reason=reason, created_by="bench", created_at=now, **scope))


def run(home: Path, database_url: str | None, summary: dict[str, Any] | None, runs: int,
        which: str = "default", holds: bool = False) -> list[dict[str, Any]]:
    import uvicorn

    app = App(Settings(home=home, database_url=database_url))
    if holds:
        _add_holds(app)
    if users.get_user(app, "bench") is None:
        users.add_user(app, "bench", role="records-officer", password=PASSWORD, actor="bench")
    with app.catalog.session() as s:
        items = s.scalar(select(func.count()).select_from(t.Item)) or 0
    timed = Timed(asgi(app))

    def count(*_: Any) -> None:
        timed.counting += 1

    event.listen(app.catalog.engine, "before_cursor_execute", count)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(timed, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    samples = _samples(app, summary)
    pages = [("/search, phrase (about 1 item per account)", "/search?q=" + quote('"bulk post 501"')),
             ("/search, word in 2/3 of items", "/search?q=comment"),
             ("/search, word + filters (edited)", "/search?q=post&edited=1"),
             *[(f"/items/{{id}} ({k})", f"/items/{quote(v)}") for k, v in samples.items()],
             ("/ dashboard", "/"), ("/requests", "/requests"), ("/accounts", "/accounts")]
    if which == "filters":
        pages = FILTER_PAGES
    rows = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            page = client.get("/login").text
            token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            assert client.post("/login", data={"csrf": token, "name": "bench", "password": PASSWORD}).status_code == 303
            for label, path in pages:
                server_ms, server_cpu, ttfb, full, queries = [], [], [], [], set()
                for i in range(runs + 1):
                    start = time.perf_counter()
                    with client.stream("GET", path) as response:
                        first = time.perf_counter()
                        body = response.read()
                        end = time.perf_counter()
                    assert response.status_code == 200, (path, response.status_code, body[:300])
                    if i:  # the first is a warm-up
                        server_ms.append(timed.ms)
                        server_cpu.append(timed.cpu_ms)
                        ttfb.append((first - start) * 1000)
                        full.append((end - start) * 1000)
                        queries.add(timed.queries)
                rows.append({"page": label, "path": path, "items": items,
                             "server_ms": round(statistics.median(server_ms), 1),
                             "server_cpu_ms": round(statistics.median(server_cpu), 1),
                             "ttfb_ms": round(statistics.median(ttfb), 1),
                             "full_ms": round(statistics.median(full), 1),
                             "queries": sorted(queries), "bytes": len(body)})
    finally:
        server.should_exit = True
        thread.join(10)
        app.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--summary", type=Path, default=None, help="bench/synthetic.py --json output")
    parser.add_argument("--build", type=int, default=0, help="first generate this many synthetic items")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pages", choices=["default", "filters"], default="default",
                        help="filters: the filtered searches, /accounts pages and /holds")
    parser.add_argument("--holds", action="store_true", help="first add three holds (catalog rows only; a copy!)")
    args = parser.parse_args(argv)
    summary = json.loads(args.summary.read_text()) if args.summary else None
    if args.build:
        from bench.synthetic import generate

        app = App(Settings(home=args.home, database_url=args.database_url))
        summary = generate(app, items=args.build, seed=1).as_dict()
        app.close()
    rows = run(args.home, args.database_url, summary, args.runs, args.pages, args.holds)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| page | items | server ms | server CPU ms | TTFB ms | full ms | SQL queries | bytes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['page']} | {r['items']:,} | {r['server_ms']} | {r['server_cpu_ms']} | {r['ttfb_ms']} | {r['full_ms']} | "
              f"{', '.join(map(str, r['queries']))} | {r['bytes']:,} |")


if __name__ == "__main__":
    main()
