"""archiver.warc.digests gives warcio's digest verdicts, record for record, at hashlib speed."""

from __future__ import annotations

import base64
import hashlib
import io
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from archiver.warc.digests import check_record_digests

TYPES = ("response", "request", "resource", "metadata", "warcinfo", "revisit")
HEADER_TEXT = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
                      min_size=1, max_size=12)
VALUE_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


def encode(algo: str, raw: bytes, style: str) -> str:
    if style == "hex":
        return f"{algo}:{raw.hex()}"
    if style == "HEX":
        return f"{algo}:{raw.hex().upper()}"
    if style == "base32":
        return f"{algo}:{base64.b32encode(raw).decode()}"
    return f"{algo}:{base64.b64encode(raw).decode()}"


@st.composite
def records(draw: st.DrawFn) -> bytes:
    """One WARC record: digests right or wrong, in any encoding warcio reads, maybe a flipped byte."""
    rec_type = draw(st.sampled_from(TYPES))
    http = rec_type in ("response", "request", "revisit") and draw(st.booleans())
    uri = "http://example.org/x" if http else draw(st.sampled_from(["urn:x:1", "http://example.org/y"]))
    body = draw(st.binary(max_size=3000))
    if http:
        first = "GET /x HTTP/1.1" if rec_type == "request" else "HTTP/1.1 200 OK"
        lines = draw(st.lists(st.tuples(HEADER_TEXT, VALUE_TEXT), max_size=5))
        ending = draw(st.sampled_from(["\r\n", "\n"]))
        head = (first + ending + "".join(f"{k}: {v}{ending}" for k, v in lines) + ending).encode()
        block, payload = head + body, body
    else:
        block = payload = body
    algo = draw(st.sampled_from(["sha256", "sha1"]))
    headers = [("WARC-Type", rec_type), ("WARC-Record-ID", f"<urn:uuid:{draw(st.uuids())}>"),
               ("WARC-Target-URI", uri)]
    for name, data in (("WARC-Block-Digest", block), ("WARC-Payload-Digest", payload)):
        if draw(st.booleans()):
            raw = hashlib.new(algo, data).digest()
            if draw(st.integers(0, 9)) == 0:  # a wrong digest as written
                raw = hashlib.new(algo, b"other").digest()
            headers.append((name, encode(algo, raw, draw(st.sampled_from(["hex", "HEX", "base32", "base64"])))))
    if block and draw(st.booleans()):  # damage after writing: one byte of the block changes
        at = draw(st.integers(0, len(block) - 1))
        flip = draw(st.integers(1, 255))
        block = block[:at] + bytes([block[at] ^ flip]) + block[at + 1:]
    headers.append(("Content-Length", str(len(block))))
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


def warcio_verdict(data: bytes) -> tuple[int, str]:
    """What `verify` did before: warcio's checking reader, first problem of the first bad record."""
    count = 0
    for record in ArchiveIterator(io.BytesIO(data), check_digests=True):
        while record.raw_stream.read(1 << 16):
            pass
        count += 1
        if record.digest_checker.problems:
            return count, record.digest_checker.problems[0]
    return count, ""


def our_verdict(data: bytes) -> tuple[int, str]:
    check = check_record_digests(io.BytesIO(data))
    if check.finding is not None:
        assert check.finding.number == check.records
        return check.records, check.finding.problem
    return check.records, ""


def gzip_member(record: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    return comp.compress(record) + comp.flush()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=4), st.booleans())
def test_same_verdict_as_warcio(recs: list[bytes], gzipped: bool) -> None:
    data = b"".join(gzip_member(r) if gzipped else r for r in recs)
    assert our_verdict(data) == warcio_verdict(data)


def test_a_flipped_payload_byte_names_the_record_and_its_member_offset() -> None:
    good = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"
    bad = good.replace(b"hello", b"hellO")

    def record(block: bytes, digest_of: bytes, rid: str) -> bytes:
        payload = digest_of.split(b"\r\n\r\n", 1)[1]
        head = (f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: {rid}\r\n"
                "WARC-Target-URI: http://example.org/\r\n"
                f"WARC-Block-Digest: sha256:{hashlib.sha256(digest_of).hexdigest()}\r\n"
                f"WARC-Payload-Digest: sha256:{hashlib.sha256(payload).hexdigest()}\r\n"
                f"Content-Length: {len(block)}\r\n\r\n").encode()
        return gzip_member(head + block + b"\r\n\r\n")

    first = record(good, good, "<urn:uuid:1>")
    data = first + record(bad, good, "<urn:uuid:2>") + record(good, good, "<urn:uuid:3>")
    check = check_record_digests(io.BytesIO(data))
    assert check.records == 2
    assert check.finding is not None
    assert (check.finding.number, check.finding.record_id, check.finding.offset) == (2, "<urn:uuid:2>", len(first))
    assert check.finding.problem.startswith("block digest failed: sha256:")
    assert check_record_digests(io.BytesIO(first * 3)).finding is None
