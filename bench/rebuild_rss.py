"""Peak memory of `catalog rebuild` (issue 13 part 4), and of indexing one large media record.

    python bench/rebuild_rss.py --home /tmp/synth-10k          # rebuild an existing archive
    python bench/rebuild_rss.py --media-mib 200                # an archive with one 200 MiB video
    python bench/rebuild_rss.py --home DIR --code /tmp/before  # another checkout's code
    python bench/rebuild_rss.py --home COPY --fill-gb 4         # add 4 GB of video first

Each measured step is its own process (`os.wait4` gives that child's peak RSS): `archiver
catalog rebuild --json` on the archive; with --media-mib, first the capture side (encrypt,
store and index a sealed WARC holding one media response of that size, as the outbox does
after a capture), then the rebuild. The media WARC is written by a third process, so the
writer's copy of the body is not counted. `--code DIR` runs that checkout (PYTHONPATH).

`--fill-gb G` first adds G GB of stored WARCs to the archive at --home (which it writes to: give
a copy), each holding one video of `--fill-mib` MiB of random bytes (incompressible, so the
stored objects really are that large) captured through the real writer and outbox, as a
district's archive is mostly media by size. That is how the issue's "rebuild of 5 GB of WARCs"
is reached without generating 5 million synthetic items: the 1M-item archive (~1 GB) plus 4 GB
of media.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_WRITE_MEDIA = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from archiver.warc.fields import INFO_ACCOUNT, INFO_PLATFORM, PURPOSE_HEADER
from archiver.warc.writer import HttpMessage, WarcFile
spool, mib = Path(sys.argv[1]), int(sys.argv[2])
body = bytes(range(256)) * (mib * 4096)  # mib MiB that gzip shrinks, so writing is quick
now = datetime.now(UTC)
warc = WarcFile(spool, "media-bench.warc.gz", {INFO_PLATFORM: "facebook", INFO_ACCOUNT: "424242"}, now=now)
warc.write_exchange("https://video.example.org/big.mp4", HttpMessage("GET /big.mp4 HTTP/1.1", [("Host", "video.example.org")]),
                    HttpMessage("200 OK", [("Content-Type", "video/mp4"), ("Content-Length", str(len(body)))], body),
                    when=now, extra_headers={PURPOSE_HEADER: "media"})
print(warc.seal().path)
"""

_STORE = """
import sys
from pathlib import Path
from archiver.app import App
from archiver.core.settings import load_settings
from archiver.preservation.outbox import Outbox
app = App(load_settings())
stats = Outbox(app).store_sealed(Path(sys.argv[1]), "facebook", "424242")
print(stats.media)
"""


_FILL = """
import os, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from archiver.app import App
from archiver.core.settings import load_settings
from archiver.preservation.outbox import Outbox
from archiver.warc.fields import INFO_ACCOUNT, INFO_PLATFORM, PURPOSE_HEADER
from archiver.warc.writer import HttpMessage, WarcFile
spool, count, mib = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
app = App(load_settings())
outbox = Outbox(app)
start = datetime(2026, 11, 1, tzinfo=UTC)
for n in range(count):
    now = start + timedelta(minutes=n)
    body = os.urandom(mib << 20)
    warc = WarcFile(spool, f"facebook-424242-fill-{n:05d}.warc.gz",
                    {INFO_PLATFORM: "facebook", INFO_ACCOUNT: "424242"}, now=now)
    uri = f"https://video.example.org/fill-{n}.mp4"
    warc.write_exchange(uri, HttpMessage(f"GET /fill-{n}.mp4 HTTP/1.1", [("Host", "video.example.org")]),
                        HttpMessage("200 OK", [("Content-Type", "video/mp4"), ("Content-Length", str(len(body)))], body),
                        when=now, extra_headers={PURPOSE_HEADER: "media"})
    del body
    outbox.store_sealed(warc.seal().path, "facebook", "424242")
    print(n + 1, file=sys.stderr, flush=True)
"""


def stored_bytes(home: Path) -> int:
    return sum(f.stat().st_size for f in (home / "store").rglob("*") if f.is_file())


def measured(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MiB, stdout) of one child process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode not in (0, 1):  # rebuild exits 1 when it finds differences
        raise SystemExit(f"{argv[1:5]} failed ({proc.returncode}): {stderr[-800:]}")
    return wall, usage.ru_maxrss // 1024, stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="an existing archive to rebuild")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--media-mib", type=int, default=0, help="build an archive with one media record")
    parser.add_argument("--code", type=Path, default=None, help="run this checkout's archiver package")
    parser.add_argument("--fill-gb", type=float, default=0.0, help="first add this many GB of video WARCs to --home")
    parser.add_argument("--fill-mib", type=int, default=100, help="MiB of random bytes per video WARC")
    args = parser.parse_args(argv)
    cwd = args.code.resolve() if args.code else ROOT
    env = {**os.environ}
    env.setdefault("ARCHIVER_DISTRICT", "Bench School District")
    env.setdefault("ARCHIVER_STATE", "WA")
    if args.code:
        env["PYTHONPATH"] = str(cwd)
    if args.database_url:
        env["ARCHIVER_DATABASE_URL"] = args.database_url
    py = sys.executable
    results: dict[str, object] = {"load": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="rebuild-rss-") as tmp:
        home = args.home
        if args.media_mib:
            home = Path(tmp) / "home"
            env["ARCHIVER_HOME"] = str(home)
            subprocess.run([py, "-m", "archiver.cli.main", "init"], env=env, cwd=cwd, check=True,
                           stdout=subprocess.DEVNULL)
            spool = Path(tmp) / "spool"
            sealed = subprocess.run([py, "-c", _WRITE_MEDIA, str(spool), str(args.media_mib)], env=env, cwd=cwd,
                                    check=True, capture_output=True, text=True).stdout.strip()
            wall, peak, out = measured([py, "-c", _STORE, sealed], env, cwd)
            results["store_and_index"] = {"wall_s": round(wall, 2), "peak_rss_mib": peak, "media": out.strip()}
        if home is None:
            raise SystemExit("give --home or --media-mib")
        env["ARCHIVER_HOME"] = str(home)
        if args.fill_gb:
            count = max(1, round(args.fill_gb * 1e9 / (args.fill_mib << 20)))
            started = time.perf_counter()
            subprocess.run([py, "-c", _FILL, str(Path(tmp) / "fill-spool"), str(count), str(args.fill_mib)],
                           env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
            results["fill"] = {"warcs": count, "mib_each": args.fill_mib,
                               "wall_s": round(time.perf_counter() - started, 1)}
        if args.home is not None and (args.home / "store").is_dir():
            results["stored_bytes"] = stored_bytes(args.home)
        wall, peak, out = measured([py, "-m", "archiver.cli.main", "catalog", "rebuild", "--json"], env, cwd)
        report = json.loads(out)
        results["rebuild"] = {"wall_s": round(wall, 2), "peak_rss_mib": peak, "warcs": report["warcs"],
                              "equal": report["equal"]}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
