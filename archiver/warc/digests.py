"""Recompute every record's WARC-Block-Digest and WARC-Payload-Digest at the speed of hashlib.

warcio's checking reader converts each digest to a Base32 string and parses headers line by
line in Python, which limits `archiver verify` to a few MB/s. This checker inflates each gzip
member with zlib, hashes the bytes with hashlib and compares raw digests; only a Base32 value
in the WARC (not what this archiver writes) is compared as a string, as warcio does.

It gives warcio's verdicts and wording (tests/test_warc_digests.py checks that on random
records): the block digest covers the Content-Length bytes after the WARC headers; the payload
digest covers what follows the HTTP headers of request, response and revisit records with an
http(s) target (the whole block otherwise); revisit records and an empty block's block digest
are not checked; a payload digest of a segmented record is ignored. A record that cannot be
parsed (bad gzip, bad headers, truncated) raises `WarcFormatError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not at run time: the reader imports warcio, which `verify` never needs
    from archiver.warc.reader import ByteStream

_READ = 1 << 20  # bytes asked of the stream at a time
_FEED = 1 << 12  # compressed bytes handed to zlib at a time (bounds the copy at a member's end)
_GZIP_MAGIC = b"\x1f\x8b"
_HTTP_TYPES = (b"response", b"request", b"revisit")
# The WARC headers this checker reads (names are case-insensitive; the first of a name counts).
_NAMES = (b"warc-type", b"warc-record-id", b"content-length", b"warc-block-digest",
          b"warc-payload-digest", b"warc-target-uri", b"warc-segment-number")
_NAME_SET = frozenset(_NAMES)


class WarcFormatError(ValueError):
    """The bytes are not a well-formed (gzipped) WARC."""


@dataclass(frozen=True, slots=True)
class DigestFinding:
    number: int  # 1-based position of the record in the file
    record_id: str
    offset: int  # of the record's gzip member (of the record, in an uncompressed WARC)
    problem: str  # warcio's wording, e.g. "block digest failed: sha256:..."


@dataclass(frozen=True, slots=True)
class DigestCheck:
    records: int  # records read to their end
    finding: DigestFinding | None  # the first record that fails a digest, if any


class _Expected:
    """One digest a record claims, ready to compare with a hashlib object."""

    __slots__ = ("_header", "hasher", "raw", "b32")

    def __init__(self, header: str | bytes, hasher: Any, raw: bytes | None, b32: str | None) -> None:
        self._header = header
        self.hasher = hasher
        self.raw = raw
        self.b32 = b32

    @property
    def header(self) -> str:
        """The claimed value as warcio prints it (decoded only when a message needs it)."""
        header = self._header
        return header if isinstance(header, str) else header.decode("ascii")

    def matches(self) -> bool:
        digest = self.hasher.digest()
        if self.raw is not None:
            return bool(digest == self.raw)
        return base64.b32encode(digest).decode("ascii") == self.b32


_HASHERS: dict[str, tuple[Callable[[], Any], int]] = {}  # algorithm -> (constructor, Base32 length)


def _hasher(algo: str) -> tuple[Callable[[], Any], int]:
    known = _HASHERS.get(algo)
    if known is None:
        size = hashlib.new(algo).digest_size  # ValueError for a name hashlib does not know
        direct = getattr(hashlib, algo, None) if algo in hashlib.algorithms_guaranteed else None
        ctor: Callable[[], Any] = direct if callable(direct) else (lambda: hashlib.new(algo))
        known = _HASHERS[algo] = (ctor, (size + 4) // 5 * 8)
    return known


def _expected(value: str | None, kind: str, problems: list[str]) -> _Expected | None:
    """The claimed digest as raw bytes (hex or Base64) or a Base32 string, as warcio reads it."""
    if not value:
        return None
    algo, sep, encoded = value.partition(":")
    try:
        if sep != ":":
            raise ValueError(value)
        ctor, b32_len = _hasher(algo)
    except ValueError:
        problems.append(f"unknown hash algorithm name in {kind} digest")
        return None
    try:
        if len(encoded) == b32_len:
            return _Expected(value, ctor(), None, encoded)
        if len(encoded) > b32_len:
            return _Expected(value, ctor(), binascii.unhexlify(encoded), None)
        if "-" in encoded or "_" in encoded:
            return _Expected(value, ctor(), base64.b64decode(encoded, altchars=b"-_"), None)
        return _Expected(value, ctor(), base64.b64decode(encoded), None)
    except (binascii.Error, ValueError) as exc:
        raise WarcFormatError(f"undecodable digest {value!r}") from exc


def _claim(value: bytes | None, kind: str, problems: list[str]) -> _Expected | None:
    """`_expected` for a header value; the form this archiver writes (sha256 in hex) is read
    without decoding it to text first (same verdict: hex is what `_expected` reads at that
    length too)."""
    if value is not None and len(value) == 71 and value[:7] == b"sha256:":
        try:
            return _Expected(value, _sha256(), binascii.unhexlify(value[7:]), None)
        except binascii.Error:
            pass  # _expected raises the format error in its own words
    return _expected(_text(value), kind, problems)


_sha256 = hashlib.sha256


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("iso-8859-1")


class _Parser:
    """Record by record over the uncompressed stream, fed in pieces of any size."""

    def __init__(self, on_record: Callable[[DigestFinding | None], bool]) -> None:
        self._on_record = on_record  # returns False to stop
        self.records = 0
        self.record_id = ""
        self.record_offset = 0
        self._head = bytearray()  # WARC headers being collected
        self._in_block = False
        self._remaining = 0
        self._problems: list[str] = []
        self._block: _Expected | None = None
        self._payload: _Expected | None = None
        self._payload_live = False  # payload hasher fed from now on
        self._payload_late = False  # payload checked only once the block is read (warcio's order)
        self._http: bytearray | None = None  # HTTP headers being collected
        self._check_block = True
        self.stopped = False

    @property
    def idle(self) -> bool:
        """Between records: nothing half-read."""
        return not self._in_block and not self._head.strip(b"\r\n")

    def feed(self, data: bytes, offset: int, *, member: bool) -> None:
        """`offset`: where the gzip member that holds `data` starts (`member`), or where `data`
        itself starts in an uncompressed WARC."""
        pos, end = 0, len(data)
        while pos < end and not self.stopped:
            if self._in_block:
                take = min(self._remaining, end - pos)
                self._remaining -= take
                self._block_bytes(data, pos, pos + take, self._remaining == 0)
                pos += take
                if self._remaining == 0:
                    self._finish()
                continue
            if not self._head:
                while pos < end and data[pos] in (13, 10):  # the blank lines between records
                    pos += 1
                if pos == end:
                    break
                self.record_offset = offset if member else offset + pos
                found = data.find(b"\r\n\r\n", pos)
                if found >= 0:  # the usual case: the headers are all in this piece
                    head, pos = data[pos:found], found + 4
                    self._begin(head)
                    continue
            start = len(self._head)
            self._head += data[pos:]
            found = self._head.find(b"\r\n\r\n", max(0, start - 3))
            if found < 0:
                pos = end
                continue
            pos += found + 4 - start
            head = bytes(self._head[:found])
            self._head.clear()
            self._begin(head)

    def _begin(self, head: bytes) -> None:
        if not head.startswith(b"WARC/"):
            raise WarcFormatError(f"not a WARC record: {head[:40]!r}")
        fields = _fields(head)
        try:
            length = int(fields.get(b"content-length", b""))
        except ValueError as exc:
            raise WarcFormatError("record without a valid Content-Length") from exc
        if length < 0:
            raise WarcFormatError("negative Content-Length")
        rec_type = fields.get(b"warc-type", b"")
        self.record_id = fields.get(b"warc-record-id", b"").decode("utf-8", "replace")
        problems: list[str] = []
        block = payload = None
        if rec_type != b"revisit":
            block = _claim(fields.get(b"warc-block-digest"), "block", problems)
            if b"warc-segment-number" not in fields:
                payload = _claim(fields.get(b"warc-payload-digest"), "payload", problems)
        self._problems, self._block, self._payload = problems, block, payload
        self._check_block = length > 0
        uri = fields.get(b"warc-target-uri", b"").strip(b"<>")
        is_http = length > 0 and rec_type in _HTTP_TYPES and uri.startswith((b"http:", b"https:"))
        self._http = bytearray() if is_http else None
        self._payload_live = not is_http
        self._payload_late = not is_http and length > 0
        if length == 0 and payload is not None:  # warcio checks it before reading anything
            if not payload.matches():
                problems.append(f"payload digest failed: {payload.header}")
            self._payload = None
        self._remaining = length
        self._in_block = True
        if length == 0:
            self._finish()

    def _block_bytes(self, data: bytes, start: int, end: int, last: bool) -> None:
        chunk = memoryview(data)[start:end]
        if self._block is not None:
            self._block.hasher.update(chunk)
        if self._payload_live:
            if self._payload is not None:
                self._payload.hasher.update(chunk)
            return
        http = self._http
        assert http is not None
        if not http:
            at = _header_end(data, start, end)
            if at >= 0:
                self._begin_payload(memoryview(data)[at:end], last)
                return
        http += chunk
        at = _header_end(bytes(http), 0, len(http))
        if at >= 0:
            self._begin_payload(memoryview(http)[at:], last)

    def _begin_payload(self, rest: memoryview, last: bool) -> None:
        self._payload_live = True
        self._http = None
        # warcio checks the payload when its reading ends: at once if the HTTP headers took the
        # whole block (after the block digest), else with the block's last bytes.
        self._payload_late = bool(len(rest)) or not last
        if self._payload is not None and len(rest):
            self._payload.hasher.update(rest)

    def _finish(self) -> None:
        self._in_block = False
        problems = self._problems
        if self._check_block and self._block is not None and not self._block.matches():
            problems.append(f"block digest failed: {self._block.header}")
        if self._payload is not None:
            if self._payload_late:
                if not self._payload.matches():
                    problems.append(f"payload digest failed {self._payload.header}")
            elif not self._payload.matches():  # the HTTP headers took the whole block
                problems.append(f"payload digest failed: {self._payload.header}")
        self._http = None
        self.records += 1
        finding = DigestFinding(self.records, self.record_id, self.record_offset, problems[0]) if problems else None
        if not self._on_record(finding):
            self.stopped = True


# Header names as writers spell them -> the key _fields files them under (None: not read), so
# the usual line costs one dict lookup instead of a strip and a lowercase copy.
_SPELLED: dict[bytes, bytes | None] = {
    **{b"-".join(part.capitalize() for part in name.split(b"-")).replace(b"Warc-", b"WARC-")
       .replace(b"-Id", b"-ID").replace(b"-Uri", b"-URI"): name for name in _NAMES},
    **dict.fromkeys((b"WARC-Date", b"WARC-Warcinfo-ID", b"WARC-IP-Address", b"Content-Type",
                     b"WARC-Concurrent-To", b"WARC-Filename", b"WARC-Refers-To", b"WARC-Truncated",
                     b"WARC-Profile", b"WARC-Refers-To-Target-URI", b"WARC-Refers-To-Date",
                     b"X-Archiver-Purpose", b"X-Archiver-Redaction", b"X-Archiver-Request-Method"), None),
}
_UNSEEN = b""


def _fields(head: bytes) -> dict[bytes, bytes]:
    """The headers of _NAMES present in `head` (WARC headers without the blank line)."""
    out: dict[bytes, bytes] = {}
    spelled = _SPELLED
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = spelled.get(name, _UNSEEN)
        if key is None:
            continue
        if key is _UNSEEN:
            key = name.rstrip(b" \t").lower()
            if key not in _NAME_SET:
                continue
        if key not in out:
            out[key] = value.strip()
    return out


# A line that starts with whitespace (or is empty): warcio may take it for the blank line.
_WS_AT_LINE_START = re.compile(rb"\n[\n \t\r\x0b\x0c\x1c-\x1f]")


def _header_end(data: bytes, start: int, end: int) -> int:
    """Where warcio's HTTP header parser stops in data[start:end] (-1: not there yet)."""
    idx = data.find(b"\r\n\r\n", start, end)
    if idx >= 0 and data[start] not in b"\n \t\r\x0b\x0c\x1c\x1d\x1e\x1f":
        heads = data[start:idx + 1]
        if heads.isascii() and _WS_AT_LINE_START.search(heads) is None:
            return idx + 4  # no line before this one is blank, even as warcio strips lines
    at = _slow_header_end(data[start:end])
    return at if at < 0 else start + at


def _slow_header_end(http: bytes) -> int:
    """Where warcio's HTTP header parser stops (-1: not yet): after the first line that is
    blank once decoded (UTF-8, else Latin-1) and stripped."""
    at = 0
    while True:
        nl = http.find(b"\n", at)
        if nl < 0:
            return -1
        line = bytes(http[at:nl + 1])
        at = nl + 1
        if not _decode_line(line).rstrip():
            return at


def _text(value: bytes | None) -> str | None:
    return None if value is None else _decode_line(value)


class RecordDigestChecker:
    """One pass over one WARC. After an exception, `records` and `record_id` say how far it got
    (the records read to their end, the last record whose headers were read)."""

    def __init__(self) -> None:
        self._parser = _Parser(self._on_record)
        self._first: DigestFinding | None = None

    @property
    def records(self) -> int:
        return self._parser.records

    @property
    def record_id(self) -> str:
        return self._parser.record_id

    def _on_record(self, finding: DigestFinding | None) -> bool:
        if finding is not None:
            self._first = finding
            return False
        return True

    def check(self, stream: ByteStream) -> DigestCheck:
        """Read a WARC (gzipped per record, or not) to its end or to its first failing record."""
        parser = self._parser
        buf = stream.read(_READ) or b""
        if buf[:2] == _GZIP_MAGIC:
            _inflate_members(stream, buf, parser)
        else:
            base = 0
            while buf and not parser.stopped:
                parser.feed(buf, base, member=False)
                base += len(buf)
                buf = stream.read(_READ) or b""
        if not parser.stopped and not parser.idle:
            raise WarcFormatError("the WARC ends inside a record")
        return DigestCheck(parser.records, self._first)


def check_record_digests(stream: ByteStream) -> DigestCheck:
    """Every record's digests, up to the first that fails; WarcFormatError if unreadable."""
    return RecordDigestChecker().check(stream)


def _inflate_members(stream: ByteStream, buf: bytes, parser: _Parser) -> None:
    base, pos = 0, 0  # stream offset of buf[0]; position in buf
    view = memoryview(buf)
    while not parser.stopped:
        if pos >= len(buf):
            base += len(buf)
            buf, pos = (stream.read(_READ) or b""), 0
            view = memoryview(buf)
            if not buf:
                return
        member_at = base + pos
        d = zlib.decompressobj(31)
        while True:
            if pos >= len(buf):
                base += len(buf)
                buf, pos = (stream.read(_READ) or b""), 0
                view = memoryview(buf)
                if not buf:
                    raise WarcFormatError("the WARC ends inside a gzip member")
            piece = view[pos:pos + _FEED]
            try:
                out = d.decompress(piece)
            except zlib.error as exc:
                raise WarcFormatError(f"bad gzip data at offset {member_at}") from exc
            if out:
                parser.feed(out, member_at, member=True)
                if parser.stopped:
                    return
            if d.eof:
                pos += len(piece) - len(d.unused_data)
                break
            pos += len(piece)
