"""The export package's small parts: redaction masking, escaping, diffs, digests, WACZ keys."""

from __future__ import annotations

import gzip
import hashlib
import io
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from warcio.statusandheaders import StatusAndHeaders

from archiver.requests.package.htmltext import diff_html, escape_text, text_html
from archiver.requests.package.model import Redaction
from archiver.requests.package.redact import Mark, Masker
from archiver.requests.package.wacz import surt
from archiver.requests.package.warcdigest import RecordCheck, digest_matches
from archiver.warc.writer import SpecWARCWriter

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _masker(*texts: str) -> Masker:
    return Masker([Redaction("item", text, f"EX-{n}", "officer", NOW) for n, text in enumerate(texts)])


def test_overlapping_redactions_merge_into_one_mark_citing_both() -> None:
    segments = _masker("Jane Doe", "Doe Street").segments("Ask Jane Doe Street now")
    assert segments[0] == "Ask " and segments[-1] == " now"
    mark = segments[1]
    assert isinstance(mark, Mark) and mark.labels == ("R1", "R2") and mark.exemptions == ("EX-0", "EX-1")


NAMEISH = st.text(alphabet="abcAB 09-", min_size=1, max_size=8).filter(lambda s: s.strip())


@given(st.text(alphabet="abcAB 09-.!", max_size=40), NAMEISH, st.text(alphabet="abcAB 09-", max_size=40))
def test_masked_text_never_contains_the_redacted_text(before: str, secret: str, after: str) -> None:
    """Names and numbers, repeated, overlapping, touching: none survives masking."""
    masker = _masker(secret)
    value = before + secret + after + secret + secret
    if secret not in "[redacted R1: EX-0]":  # a secret spelled like the caption is not testable
        assert secret not in masker.plain(value)


def test_escape_makes_markup_and_invisible_controls_visible_text() -> None:
    out = escape_text("<script>x</script> \u202egpj.exe\u202c a\x07b")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "\u202e" not in out and "[RLO]" in out and "[PDF]" in out and "[U+0007]" in out
    assert escape_text("👩‍👩‍👧 שלום") == "👩‍👩‍👧 שלום"  # emoji sequences and RTL text untouched


def test_diff_marks_changed_words_and_keeps_redactions_as_bars() -> None:
    masker = _masker("555-1234")
    left, right = diff_html("Call 555-1234 about the bus", "Call 555-1234 about the new bus", masker)
    assert "<ins" in right and "new" in right and "<del" not in left
    assert "555-1234" not in left + right and "redacted R1" in left
    assert "555-1234" not in text_html("tel 555-1234", masker)


def _record(body: bytes) -> bytes:
    out = io.BytesIO()
    writer = SpecWARCWriter(out, gzip=True, warc_version="1.1")
    record = writer.create_warc_record(
        "https://graph.example/1", "response", payload=io.BytesIO(body), length=None,
        http_headers=StatusAndHeaders("200 OK", [("Content-Type", "application/json")], protocol="HTTP/1.1"))
    writer.write_record(record)
    return out.getvalue()


def test_record_check_passes_intact_records_and_names_a_changed_payload() -> None:
    data = _record(b'{"message": "hello"}')
    check = RecordCheck()
    check.feed(data)
    assert check.eof and check.finish() == [] and check.trailing == b""
    raw = bytearray(gzip.decompress(data))
    raw[raw.index(b"hello")] = ord("j")
    check = RecordCheck()
    check.feed(gzip.compress(bytes(raw)))
    assert set(check.finish()) == {"block digest does not match", "payload digest does not match"}


def test_digest_labels_in_hex_and_base32() -> None:
    digest = hashlib.sha1(b"x").digest()
    import base64

    assert digest_matches("sha1:" + base64.b32encode(digest).decode(), digest)
    assert digest_matches("sha1:" + digest.hex(), digest)
    assert not digest_matches("sha1:" + "0" * 40, digest)


def test_surt_reverses_the_host_and_sorts_the_query() -> None:
    assert surt("https://www.Example.com:8443/a/b?z=1&a=2") == "com,example:8443)/a/b?a=2&z=1"
    assert surt("urn:district-archiver:post:1") == "urn:district-archiver:post:1"


def test_a_record_failing_its_own_digest_stops_the_copy_and_names_the_object(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Authenticated ciphertext can still hold a bad record (damaged before it was encrypted):
    the copy checks each record's WARC digests too."""
    import pytest

    from archiver.core.errors import IntegrityError
    from archiver.preservation.reading import StoredWarc
    from archiver.requests.package.gather import Gathered, Ptr
    from archiver.requests.package.records import RecordPlan, _Copier

    good = _record(b'{"message": "hello"}')
    raw = bytearray(gzip.decompress(good))
    raw[raw.index(b"hello")] = ord("j")
    bad = gzip.compress(bytes(raw))

    class FakeRanges:
        warc = StoredWarc("w.warc.gz", "warc/x/w.warc.gz.enc", None, None, None)

        def read(self, offset: int, length: int) -> bytes:
            return bad[offset: offset + length]

    g = Gathered({}, {}, {}, {}, {}, {}, {}, {})
    plan = RecordPlan()
    planned = plan.add(Ptr("w.warc.gz", 0, len(bad)), "version")
    with open(tmp_path / "out.warc.gz", "wb") as out:
        copier = _Copier(None, g, plan, _masker(), out, lambda: None)  # type: ignore[arg-type]
        with pytest.raises(IntegrityError, match=r"warc/x/w\.warc\.gz\.enc.*digest"):
            copier._copy(FakeRanges(), planned)  # type: ignore[arg-type]


def test_item_lookups_use_the_catalog_index_not_a_scan(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A request's items and their parents are found through the unique (platform, item_id)
    index: SQLite does not use it for a list of (platform, item_id) row values, nor (without
    statistics, as the archiver leaves its catalog) for item_id alone, and on the synthetic
    1,000,000-item archive the export read every item (1.2 s) and `requests add` with 100
    --item read them 100 times (2 minutes)."""
    from sqlalchemy import event, insert

    from archiver.catalog import tables as t
    from archiver.catalog.db import open_catalog
    from archiver.requests.package.gather import _ancestors, resolve_ids
    from archiver.requests.register import find_item

    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    when = datetime(2026, 3, 1, tzinfo=UTC)
    with catalog.engine.begin() as conn:
        conn.execute(insert(t.Account), [{"id": 1, "platform": "facebook", "account_id": "1", "name": "S",
                                          "created_at": when}])
        conn.execute(insert(t.Item), [
            {"id": n + 1, "account_pk": 1, "platform": "facebook", "item_id": f"i{n}", "kind": "comment",
             "parent_id": f"i{n - 1}" if n else None, "created_at": when, "first_seen_at": when,
             "last_seen_at": when} for n in range(2000)])
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM items" in statement:
            statements.append((statement, parameters))

    event.listen(catalog.engine, "before_cursor_execute", keep)
    try:
        with catalog.session() as s:
            found = resolve_ids(s, ["i1500", "i1700"])
            context = _ancestors(s, found.values(), {("facebook", "i1500"), ("facebook", "i1700")})
            assert find_item(s, "i1234").item_id == "i1234"  # requests add --item
    finally:
        event.remove(catalog.engine, "before_cursor_execute", keep)
    assert sorted(found) == ["i1500", "i1700"] and ("facebook", "i1699") in context
    assert statements
    with catalog.engine.connect() as conn:
        raw = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for statement, parameters in statements:
            plan = " | ".join(str(row[-1]) for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))
            assert "SCAN items" not in plan, plan
    catalog.dispose()
