"""Readers stream media bodies (issue 13 part 4): a large media record is read past in
pieces, never held whole, by `iter_records`, by capture-side indexing and by the rebuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.warc.fields import INFO_ACCOUNT, INFO_PLATFORM, PURPOSE_HEADER
from archiver.warc.reader import iter_records, keep_all, read_record
from archiver.warc.writer import HttpMessage, WarcFile

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20


def media_warc(folder: Path, body: bytes, *, json_body: bytes = b'{"data": []}') -> Path:
    """A sealed WARC: warcinfo, one API page (kept) and one media response (streamed past)."""
    now = datetime.now(UTC)
    warc = WarcFile(folder, "media-test.warc.gz", {INFO_PLATFORM: "facebook", INFO_ACCOUNT: "424242"}, now=now)
    warc.write_exchange("https://graph.example.org/424242/posts",
                        HttpMessage("GET /424242/posts HTTP/1.1", [("Host", "graph.example.org")]),
                        HttpMessage("200 OK", [("Content-Type", "application/json")], json_body), when=now)
    warc.write_exchange("https://video.example.org/big.mp4",
                        HttpMessage("GET /big.mp4 HTTP/1.1", [("Host", "video.example.org")]),
                        HttpMessage("200 OK", [("Content-Type", "video/mp4"), ("Content-Length", str(len(body)))],
                                    body),
                        when=now, extra_headers={PURPOSE_HEADER: "media"})
    return warc.seal().path


def test_media_body_is_streamed_past_with_its_size_and_the_same_pointers(tmp_path: Path) -> None:
    body = os.urandom(3 * MIB + 17)
    path = media_warc(tmp_path, body, json_body=b'{"data": [1]}')
    with open(path, "rb") as fh:
        streamed = list(iter_records(fh, path.name))
    with open(path, "rb") as fh:
        whole = list(iter_records(fh, path.name, keep_body=keep_all))
    assert [r.pointer for r in streamed] == [r.pointer for r in whole]
    media = [r for r in streamed if r.headers.get(PURPOSE_HEADER) == "media"]
    assert len(media) == 1 and media[0].body == b"" and media[0].size == len(body) == media[0].streamed_size
    page = next(r for r in streamed if r.rec_type == "response" and r is not media[0])
    assert page.body == b'{"data": [1]}' and page.streamed_size is None and page.size == len(page.body)
    kept = next(r for r in whole if r.headers.get(PURPOSE_HEADER) == "media")
    assert kept.body == body and kept.size == len(body)
    # One record by pointer keeps its body (the bytes are in memory already).
    data = path.read_bytes()
    pointer = media[0].pointer
    assert read_record(data[pointer.offset:pointer.offset + pointer.length], pointer).body == body


_PEAK = """
import json, resource, sys
from pathlib import Path
from archiver.warc.reader import iter_records
def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with open(sys.argv[2], "rb") as fh:  # a small WARC first: imports and warcio's buffers
    sizes = [r.size for r in iter_records(fh, "small")]
before = peak_mib()
with open(sys.argv[1], "rb") as fh:
    sizes = [r.size for r in iter_records(fh, "big")]
print(json.dumps({"growth_mib": peak_mib() - before, "sizes": sizes}))
"""


def test_iterating_a_large_media_record_keeps_memory_flat(tmp_path: Path) -> None:
    size = 96 * MIB
    big = media_warc(tmp_path / "big", bytes(range(256)) * (size // 256))  # gzip shrinks it: quick to write
    small = media_warc(tmp_path / "small", b"x" * 1000)
    done = subprocess.run([sys.executable, "-c", _PEAK, str(big), str(small)], cwd=REPO, check=True,
                          capture_output=True, text=True)
    result = json.loads(done.stdout)
    assert size in result["sizes"]
    assert result["growth_mib"] < 16, f"peak RSS grew {result['growth_mib']:.0f} MiB reading a {size // MIB} MiB body"


_STORE_THEN_REBUILD = """
import json, resource, sys
from pathlib import Path
from archiver.app import App
from archiver.core.settings import load_settings
from archiver.preservation.outbox import Outbox
from archiver.preservation.rebuild import rebuild
def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
app = App(load_settings())
Outbox(app).store_sealed(Path(sys.argv[2]), "facebook", "424242")  # warm: imports, catalog, keys
before = peak_mib()
stats = Outbox(app).store_sealed(Path(sys.argv[1]), "facebook", "424242")
stored = peak_mib()
report = rebuild(app)
print(json.dumps({"media": stats.media, "store_growth_mib": stored - before,
                  "rebuild_growth_mib": peak_mib() - before, "equal": report.equal, "warcs": report.warcs}))
"""


@pytest.mark.slow
def test_storing_and_rebuilding_a_large_media_record_keeps_memory_flat(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from archiver.cli.main import cli

    env = {**os.environ, "ARCHIVER_HOME": str(tmp_path / "home")}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    size = 128 * MIB
    big = media_warc(tmp_path / "big", bytes(range(256)) * (size // 256))
    small = media_warc(tmp_path / "small", b"x" * 1000)
    small = small.rename(small.with_name("media-small.warc.gz"))
    done = subprocess.run([sys.executable, "-c", _STORE_THEN_REBUILD, str(big), str(small)], cwd=REPO, env=env,
                          check=True, capture_output=True, text=True)
    result = json.loads(done.stdout)
    assert result["media"] == 1 and result["equal"] and result["warcs"] == 2
    assert result["store_growth_mib"] < 24, result
    assert result["rebuild_growth_mib"] < 24, result
