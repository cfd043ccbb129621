"""The WARC writer's output is valid WARC 1.1, and a torn file is salvaged to its whole records."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from archiver.warc.reader import iter_records, read_record
from archiver.warc.recover import salvage_open_file
from archiver.warc.writer import OPEN_SUFFIX, HttpMessage, WarcFile

WHEN = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)


def write_sample(folder: Path, exchanges: int = 5, seal: bool = True) -> tuple[WarcFile, list]:
    warc = WarcFile(folder, "sample.warc.gz", {"archiver-platform": "test"}, now=WHEN)
    pointers = []
    for n in range(exchanges):
        resp, req = warc.write_exchange(
            f"https://api.example/items/{n}",
            HttpMessage(f"GET /items/{n} HTTP/1.1", [("Host", "api.example")]),
            HttpMessage("200 OK", [("Content-Type", "application/json")], b'{"id": "%d"}' % n),
            when=WHEN,
        )
        pointers.append(resp)
    meta = warc.write_metadata({"archiver-observation": "deleted", "item-id": "3"}, when=WHEN,
                               refers_to=pointers[3].record_id)
    pointers.append(meta)
    if seal:
        warc.seal()
    return warc, pointers


def test_records_are_valid_and_digests_are_sha256_hex(tmp_path: Path) -> None:
    warc, _ = write_sample(tmp_path)
    result = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(warc.final_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    with open(warc.final_path, "rb") as fh:
        recs = list(ArchiveIterator(fh))
    response = next(r for r in recs if r.rec_type == "response")
    digest = response.rec_headers.get_header("WARC-Payload-Digest")
    assert digest.startswith("sha256:") and len(digest) == 7 + 64 and digest[7:] == digest[7:].lower()
    assert response.rec_headers.get_header("WARC-Date") == "2026-03-01T12:30:45Z"  # whole seconds
    metadata = next(r for r in recs if r.rec_type == "metadata")
    assert metadata.rec_headers.get_header("WARC-Payload-Digest") is None
    assert metadata.rec_headers.get_header("WARC-Refers-To")
    request = next(r for r in recs if r.rec_type == "request")
    assert request.rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header("WARC-Record-ID")


def test_pointers_read_back_single_records(tmp_path: Path) -> None:
    warc, pointers = write_sample(tmp_path)
    data = warc.final_path.read_bytes()
    for n, pointer in enumerate(pointers[:-1]):
        record = read_record(data[pointer.offset:pointer.offset + pointer.length], pointer)
        assert record.rec_type == "response" and record.body == b'{"id": "%d"}' % n
    with open(warc.final_path, "rb") as fh:
        listed = [r.pointer for r in iter_records(fh, warc.name)]
    assert [p for p in listed if p.record_id in {q.record_id for q in pointers}] == pointers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_a_torn_file_is_salvaged_to_its_complete_records(tmp_path: Path, cut: float) -> None:
    folder = tmp_path / f"c{int(cut * 1e9)}"
    warc, pointers = write_sample(folder, seal=False)
    warc.abandon()
    size = warc.path.stat().st_size
    keep = int(size * cut)
    with open(warc.path, "r+b") as fh:
        fh.truncate(keep)
    whole = [p for p in pointers if p.offset + p.length <= keep]
    sealed = salvage_open_file(warc.path)
    if sealed is None:
        assert not warc.path.exists()
        return
    assert not sealed.path.name.endswith(OPEN_SUFFIX)
    with open(sealed.path, "rb") as fh:
        ids = [r.pointer.record_id for r in iter_records(fh, sealed.name)]
    expected = {p.record_id for p in whole}
    assert expected <= set(ids)
    result = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(sealed.path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
