"""What an idle cycle's records hold (issue 12: an idle cycle stores at most 1% of the first
capture). Nothing is dropped that is evidence or that a reader needs: these tests pin what
each record keeps, and that the result is still valid WARC for warcio, the export's digest
check and the revisit resolver."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from archiver.requests.package.warcdigest import RecordCheck
from archiver.warc.reader import Record, iter_records, read_record
from archiver.warc.revisit import PROFILE, StoredPayload, payload_digest, resolve
from archiver.warc.writer import HttpMessage, WarcFile

WARCIO = Path(sys.executable).parent / "warcio"
WHEN = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
URI = "https://graph.example/v21.0/1/feed?limit=100&access_token=REDACTED"
BODY = b'{"data":[' + b",".join(b'{"id":"%d","message":"a post"}' % i for i in range(60)) + b"]}"
# What a Graph answer carries: evidence (date, type, length, validators) and operational noise
# (server software, the app's usage meter, a trace id).
ANSWER_HEADERS = [
    ("Server", "BaseHTTP/0.6 Python/3.11.7"),
    ("Date", "Thu, 03 Dec 2026 12:00:00 GMT"),
    ("Content-Type", "application/json; charset=UTF-8"),
    ("ETag", '"abc123"'),
    ("facebook-api-version", "v21.0"),
    ("x-app-usage", '{"call_count":1,"total_cputime":1,"total_time":1}'),
    ("x-fb-trace-id", "AbCdEf"),
    ("Link", '<https://graph.example/next>; rel="next"'),
    ("Content-Length", str(len(BODY))),
]


def _write(tmp_path: Path, *, post_body: bytes = b"") -> tuple[Path, dict[str, Record]]:
    w = WarcFile(tmp_path, "t.warc.gz", {"archiver-platform": "facebook"}, now=WHEN)
    request = HttpMessage("GET /v21.0/1/feed?limit=100&access_token=REDACTED HTTP/1.1",
                          [("host", "graph.example"), ("user-agent", "district-social-archiver/0.1")])
    answer = HttpMessage("200 OK", ANSWER_HEADERS, BODY)
    first, _ = w.write_exchange(URI, request, answer, when=WHEN)
    stored = StoredPayload(URI, payload_digest(BODY), WHEN, first)
    w.write_exchange(URI, request, answer, when=WHEN, revisit_of=stored)
    w.write_exchange("https://open.tiktokapis.example/v2/video/list/",
                     HttpMessage("POST /v2/video/list/ HTTP/1.1", [("host", "open.tiktokapis.example")], post_body),
                     HttpMessage("200 OK", [("Content-Type", "application/json")], b'{"data":{}}'), when=WHEN)
    path = w.seal().path
    with open(path, "rb") as fh:
        records = {r.rec_type + str(i): r for i, r in enumerate(iter_records(fh, "t.warc.gz"))}
    return path, records


def _of(records: dict[str, Record], rec_type: str) -> list[Record]:
    return [r for k, r in records.items() if r.rec_type == rec_type]


def test_every_lean_record_passes_warcio_check_and_the_export_digest_check(tmp_path: Path) -> None:
    path, records = _write(tmp_path, post_body=b'{"max_count":20}')
    out = subprocess.run([str(WARCIO), "check", "-v", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    data = path.read_bytes()
    for record in records.values():  # each record copied out by byte range checks on its own
        check = RecordCheck()
        check.feed(data[record.pointer.offset : record.pointer.offset + record.pointer.length])
        assert check.finish() == [], record.rec_type


def test_a_request_record_names_its_response_and_carries_no_digest_of_nothing(tmp_path: Path) -> None:
    _path, records = _write(tmp_path, post_body=b'{"max_count":20}')
    answers = {r.pointer.record_id: r for r in records.values() if r.rec_type in ("response", "revisit")}
    get, _get_again, post = _of(records, "request")
    for request in (get, post):
        # linked to the response or revisit; the file's first record is its warcinfo
        assert "WARC-Warcinfo-ID" not in request.headers
        assert request.headers["WARC-Concurrent-To"] in answers
        assert request.headers["WARC-Block-Digest"].startswith("sha256:")
        # the headers as sent (the caller already removed secrets), none added or dropped
        assert request.http_headers[0][0] == "host"
    assert "WARC-Payload-Digest" not in get.headers  # a GET has no payload
    assert post.headers["WARC-Payload-Digest"] == payload_digest(b'{"max_count":20}')  # a POST has one
    assert post.body == b'{"max_count":20}'


def test_a_revisit_has_no_block_and_carries_what_the_profile_asks(tmp_path: Path) -> None:
    """WARC 1.1 §6.7.2: the identical-payload-digest profile requires WARC-Payload-Digest and
    lets the record have no block (Content-Length 0); a reader resolves it to the original's
    status, headers and payload, with its own date."""
    path, records = _write(tmp_path)
    (original,) = [r for r in _of(records, "response") if r.target_uri == URI]
    (revisit,) = _of(records, "revisit")
    h = revisit.headers
    assert h["WARC-Profile"] == PROFILE
    assert h["WARC-Refers-To"] == original.pointer.record_id
    assert h["WARC-Refers-To-Target-URI"] == URI
    assert h["WARC-Refers-To-Date"] == original.headers["WARC-Date"]
    assert h["WARC-Payload-Digest"] == original.headers["WARC-Payload-Digest"]
    assert h["Content-Length"] == "0" and revisit.body == b"" and revisit.http_headers == ()
    # nothing about a block it does not have, and the warcinfo is the file's first record
    assert not {"Content-Type", "WARC-Block-Digest", "WARC-Truncated", "WARC-Warcinfo-ID"} & set(h)
    assert original.headers["WARC-Warcinfo-ID"]
    # the original keeps every header the platform sent
    assert [k for k, _ in original.http_headers] == [k for k, _ in ANSWER_HEADERS]
    # a reader still resolves it to the original's payload, status and headers, at its own date
    data = path.read_bytes()
    resolved = resolve(revisit, lambda p: read_record(data[p.offset : p.offset + p.length], p))
    assert resolved.body == BODY and resolved.http_status == 200
    assert resolved.http_headers == original.http_headers
    assert resolved.headers["WARC-Date"] == h["WARC-Date"]


def test_a_revisit_with_a_block_from_an_earlier_version_keeps_its_own_status_and_headers(tmp_path: Path) -> None:
    """Revisits written before issue 12's lean records carry a block of status line and
    evidence headers: readers still use those over the original's."""
    from warcio.statusandheaders import StatusAndHeaders

    from archiver.warc.revisit import revisit_headers
    from archiver.warc.writer import warc_date

    w = WarcFile(tmp_path, "old.warc.gz", {"archiver-platform": "facebook"}, now=WHEN)
    request = HttpMessage("GET /v21.0/1/feed HTTP/1.1", [("host", "graph.example")])
    first, _ = w.write_exchange(URI, request, HttpMessage("200 OK", ANSWER_HEADERS, BODY), when=WHEN)
    stored = StoredPayload(URI, payload_digest(BODY), WHEN, first)
    old = w._writer.create_revisit_record(
        URI, stored.payload_digest, URI, warc_date(WHEN),
        http_headers=StatusAndHeaders("200 OK", [("Date", "then")], protocol="HTTP/1.1"),
        warc_headers_dict={"WARC-Date": warc_date(WHEN), **revisit_headers(stored)})
    w._write(old)
    path = w.seal().path
    with open(path, "rb") as fh:
        (revisit,) = [r for r in iter_records(fh, path.name) if r.rec_type == "revisit"]
    data = path.read_bytes()
    resolved = resolve(revisit, lambda p: read_record(data[p.offset : p.offset + p.length], p))
    assert resolved.body == BODY and resolved.http_headers == (("Date", "then"),)


def test_the_warcinfo_holds_what_rebuild_and_an_archivist_need_once(tmp_path: Path) -> None:
    _path, records = _write(tmp_path)
    (info,) = _of(records, "warcinfo")
    fields = info.warc_fields()
    assert fields["software"] and fields["format"] == "WARC File Format 1.1" and fields["hostname"]
    assert fields["archiver-platform"] == "facebook"
    assert "conformsTo" not in fields  # the version line and `format` say it
    assert info.headers["WARC-Filename"] == "t.warc.gz"
