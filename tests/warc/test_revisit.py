"""WARC revisit records (issue 12 part 3): written by the session for a payload already
stored, valid for warcio, resolved by readers to their original."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.capture.session import CaptureSession
from archiver.core.clock import ManualClock
from archiver.core.models import WarcPointer
from archiver.core.settings import CaptureSettings
from archiver.requests.package.warcdigest import RecordCheck
from archiver.sandbox.server import Request, Response, SandboxServer
from archiver.warc.reader import Record, iter_records, read_record
from archiver.warc.revisit import (
    PROFILE,
    StoredPayload,
    UnresolvedRevisit,
    content_pointer,
    payload_digest,
    resolve,
    resolving,
)
from archiver.warc.rolling import RollingWarc
from archiver.warc.writer import HttpMessage, WarcFile

WARCIO = Path(sys.executable).parent / "warcio"
BODY = b'{"data":[' + b",".join(b'{"id":"%d","message":"a post of the bulk account"}' % i for i in range(40)) + b"]}"


def _exchange(w: WarcFile, body: bytes, *, original: StoredPayload | None = None,
              uri: str = "https://graph.example/v21.0/1/feed?access_token=REDACTED") -> WarcPointer:
    resp, _ = w.write_exchange(
        uri,
        HttpMessage("GET /v21.0/1/feed?access_token=REDACTED HTTP/1.1", [("Host", "graph.example")]),
        HttpMessage("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body),
        when=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
        revisit_of=original,
    )
    return resp


def _records(path: Path, name: str = "t.warc.gz") -> list[Record]:
    with open(path, "rb") as fh:
        return list(iter_records(fh, name))


def _fetcher(path: Path):  # type: ignore[no-untyped-def]
    data = path.read_bytes()

    def fetch(p: WarcPointer) -> Record:
        return read_record(data[p.offset : p.offset + p.length], p)

    return fetch


@pytest.fixture
def warc_with_revisit(tmp_path: Path) -> tuple[Path, WarcPointer, WarcPointer]:
    w = WarcFile(tmp_path, "t.warc.gz", {}, now=datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    uri = "https://graph.example/v21.0/1/feed?access_token=REDACTED"
    first = _exchange(w, BODY)
    stored = StoredPayload(uri, payload_digest(BODY), datetime(2026, 12, 3, 12, 0, tzinfo=UTC), first)
    second = _exchange(w, BODY, original=stored)
    return w.seal().path, first, second


def test_revisit_record_passes_warcio_check_and_names_its_original(warc_with_revisit) -> None:  # type: ignore[no-untyped-def]
    path, first, second = warc_with_revisit
    out = subprocess.run([str(WARCIO), "check", "-v", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "revisit" in out.stdout
    records = {r.pointer.record_id: r for r in _records(path)}
    rev = records[second.record_id]
    assert rev.rec_type == "revisit"
    h = rev.headers
    assert h["WARC-Profile"] == PROFILE
    assert h["WARC-Refers-To"] == first.record_id
    assert h["WARC-Refers-To-Target-URI"] == records[first.record_id].target_uri
    assert h["WARC-Refers-To-Date"] == records[first.record_id].headers["WARC-Date"]
    assert h["WARC-Payload-Digest"] == records[first.record_id].headers["WARC-Payload-Digest"]
    # no block (WARC 1.1 §6.7.2 allows it): status and headers are the original's once resolved
    assert h["Content-Length"] == "0" and rev.http_status == 0 and rev.http_headers == ()
    assert rev.body == b"" and second.length < first.length
    # the export's own digest check (export verify) accepts it too
    check = RecordCheck()
    check.feed(path.read_bytes()[second.offset : second.offset + second.length])
    assert check.finish() == []


def test_a_revisit_resolves_to_its_original_payload(warc_with_revisit) -> None:  # type: ignore[no-untyped-def]
    path, first, second = warc_with_revisit
    fetch = _fetcher(path)
    rev = fetch(second)
    resolved = resolve(rev, fetch)
    assert resolved.body == BODY and resolved.http_status == 200
    assert resolved.pointer == rev.pointer  # an observation may point at the revisit
    assert content_pointer(resolved) == first  # a version points where the content first appeared
    assert content_pointer(rev) == rev.pointer
    assert resolved.exchange().body == BODY  # what a parser sees


def test_an_unreadable_original_is_one_line_and_never_stops_a_reader(warc_with_revisit) -> None:  # type: ignore[no-untyped-def]
    path, _first, second = warc_with_revisit

    def gone(p: WarcPointer) -> Record:
        raise FileNotFoundError(f"{p.filename} was destroyed")

    rev = _fetcher(path)(second)
    with pytest.raises(UnresolvedRevisit) as caught:
        resolve(rev, gone)
    assert "\n" not in caught.value.message and "destroyed under retention" in caught.value.message
    heard: list[str] = []
    out = list(resolving([rev], gone, lambda record, exc: heard.append(exc.message)))
    assert out == [rev] and len(heard) == 1  # passed on unresolved, after one line


def test_a_revisit_whose_original_changed_is_not_resolved(tmp_path: Path, warc_with_revisit) -> None:  # type: ignore[no-untyped-def]
    path, first, second = warc_with_revisit
    fetch = _fetcher(path)

    def other(p: WarcPointer) -> Record:
        rec = fetch(p)
        return Record(rec.pointer, rec.rec_type, rec.headers, rec.http_status, rec.http_headers, b"{}")

    with pytest.raises(UnresolvedRevisit, match="no longer matches"):
        resolve(fetch(second), other)


# --- the session decides response or revisit -------------------------------------------------


class Script:
    def __init__(self) -> None:
        self.answers: list[Response] = []

    def __call__(self, req: Request) -> Response:
        return self.answers.pop(0)


@pytest.fixture
def server() -> Iterator[tuple[SandboxServer, Script]]:
    script = Script()
    srv = SandboxServer(script).start()
    yield srv, script
    srv.stop()


def _session(tmp_path: Path, stored: dict[str, StoredPayload] | None = None) -> tuple[CaptureSession, RollingWarc]:
    clock = ManualClock()
    rolling = RollingWarc(tmp_path / "spool", "test", {"archiver-platform": "test"}, max_bytes=10**9, clock=clock)
    session = CaptureSession(warc=rolling, clock=clock, settings=CaptureSettings(backoff_base=0.0, max_retries=0),
                             platform="test", account="acct", stored_payloads=stored)
    return session, rolling


def _json(body: bytes, status: int = 200) -> Response:
    return Response(status, body, [("Content-Type", "application/json")])


def test_the_session_writes_a_revisit_only_for_the_same_payload_at_the_same_uri(
        tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    other = BODY.replace(b"bulk", b"edit")
    script.answers = [_json(BODY), _json(BODY), _json(BODY), _json(other), _json(b'{"a":1}'), _json(b'{"a":1}'),
                      _json(BODY, 404), _json(BODY, 404)]
    session, rolling = _session(tmp_path)
    try:
        seen = [session.get(f"{srv.url}/feed").body, session.get(f"{srv.url}/feed").body,
                session.get(f"{srv.url}/other").body, session.get(f"{srv.url}/feed").body,
                session.get(f"{srv.url}/tiny").body, session.get(f"{srv.url}/tiny").body,
                session.get(f"{srv.url}/gone").body, session.get(f"{srv.url}/gone").body]
    finally:
        session.close()
    assert seen[:3] == [BODY, BODY, BODY]  # the connector always gets the live body
    sealed = rolling.seal_all()
    kinds = [(r.target_uri.rsplit("/", 1)[-1], r.rec_type) for r in _records(sealed[0].path)
             if r.rec_type in ("response", "revisit")]
    assert kinds == [
        ("feed", "response"), ("feed", "revisit"),  # same URI, same payload
        ("other", "response"),  # same payload, another URI
        ("feed", "response"),  # changed payload
        ("tiny", "response"), ("tiny", "response"),  # a revisit would be larger than the body
        ("gone", "response"), ("gone", "response"),  # error answers stay whole (deletion evidence)
    ]
    assert session.payloads.revisits == 1 and session.payloads.bytes_saved == len(BODY)
    out = subprocess.run([str(WARCIO), "check", str(sealed[0].path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_a_preloaded_payload_is_referred_to_across_files_but_not_a_rolled_unstored_one(
        tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    uri = f"{srv.url}/feed"
    stored = StoredPayload(uri, payload_digest(BODY), datetime(2026, 12, 1, tzinfo=UTC),
                           WarcPointer("older.warc.gz", 1234, 999, "<urn:uuid:original>"))
    script.answers = [_json(BODY), _json(BODY.replace(b"bulk", b"edit")), _json(BODY.replace(b"bulk", b"edit"))]
    session, rolling = _session(tmp_path, {uri: stored})
    try:
        session.get(uri)
        session.get(uri)
        rolling.max_bytes = 1  # the next write rolls over: the file holding the edit is not stored yet
        rolling.after_write()
        session.get(uri)
    finally:
        session.close()
    files = rolling.seal_all()
    recs = [r for f in files for r in _records(f.path, f.name) if r.rec_type in ("response", "revisit")]
    assert [r.rec_type for r in recs] == ["revisit", "response", "response"]
    assert recs[0].headers["WARC-Refers-To"] == "<urn:uuid:original>"
    assert recs[0].headers["X-Archiver-Refers-To-Location"] == "older.warc.gz#1234+999"


def test_media_fetched_again_dedupes_the_same_way(tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    srv, script = server
    image = bytes(range(256)) * 64
    script.answers = [Response(200, image, [("Content-Type", "image/jpeg")]) for _ in range(2)]
    session, rolling = _session(tmp_path)
    try:
        first = session.fetch_media(f"{srv.url}/cdn/a.jpg")
        again = session.fetch_media(f"{srv.url}/cdn/a.jpg")
    finally:
        session.close()
    assert first is not None and again is not None and again.body == image
    path = rolling.seal_all()[0].path
    media = [r for r in _records(path) if r.headers.get("X-Archiver-Purpose") == "media"]
    assert [r.rec_type for r in media] == ["response", "revisit"]
    resolved = resolve(media[1], _fetcher(path))
    assert resolved.body == image and content_pointer(resolved) == first.response_pointer


def test_the_journal_holds_a_json_original_but_a_media_original_is_read_back(
        tmp_path: Path, server) -> None:  # type: ignore[no-untyped-def]
    """A revisit has no block (its status and headers are the original's): the capture-side
    indexer may stand in a JSON original's bytes from the journal (a 200; parsers read status
    and body), but a media row keeps the original's content type, so that one is read back."""
    srv, script = server
    image = bytes(range(256)) * 64
    script.answers = [Response(200, image, [("Content-Type", "image/jpeg")]) for _ in range(2)]
    script.answers += [_json(BODY), _json(BODY)]
    clock = ManualClock()
    rolling = RollingWarc(tmp_path / "spool", "test", {"archiver-platform": "test"}, max_bytes=10**9,
                          clock=clock, journal=True)
    session = CaptureSession(warc=rolling, clock=clock, settings=CaptureSettings(backoff_base=0.0, max_retries=0),
                             platform="test", account="acct")
    try:
        media = session.fetch_media(f"{srv.url}/cdn/a.jpg")
        session.fetch_media(f"{srv.url}/cdn/a.jpg")
        feed = session.get(f"{srv.url}/feed")
        session.get(f"{srv.url}/feed")
    finally:
        session.close()
    (journal,) = rolling.journals.values()
    assert media is not None and feed.response_pointer is not None
    assert journal.revisit_payloads == {feed.response_pointer.record_id: BODY}
