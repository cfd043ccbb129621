"""Read WARC records back: whole files for rebuild, single records by pointer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from archiver.core.models import CapturedExchange, WarcPointer


@dataclass(frozen=True, slots=True)
class Record:
    pointer: WarcPointer
    rec_type: str
    headers: dict[str, str]
    http_status: int
    http_headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def date(self) -> datetime:
        return parse_warc_date(self.headers["WARC-Date"])

    @property
    def target_uri(self) -> str:
        return self.headers.get("WARC-Target-URI", "")

    def warc_fields(self) -> dict[str, str]:
        """Body of an application/warc-fields record as a dict."""
        out: dict[str, str] = {}
        for line in self.body.decode("utf-8").splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                out[key.strip()] = value.strip()
        return out

    def exchange(self) -> CapturedExchange:
        return CapturedExchange(
            url=self.target_uri,
            method=self.headers.get("X-Archiver-Request-Method", "GET"),
            status=self.http_status,
            headers=self.http_headers,
            body=self.body,
            captured_at=self.date,
            response_pointer=self.pointer,
        )


def parse_warc_date(value: str) -> datetime:
    value = value.strip().replace("Z", "+00:00")
    return datetime.fromisoformat(value).astimezone(UTC)


def _to_record(rec: ArcWarcRecord, pointer: WarcPointer) -> Record:
    headers = {k: v for k, v in rec.rec_headers.headers}
    status = 0
    http_headers: tuple[tuple[str, str], ...] = ()
    if rec.http_headers is not None and rec.rec_type in ("response", "request", "revisit"):
        http_headers = tuple(rec.http_headers.headers)
        if rec.rec_type in ("response", "revisit"):  # a revisit keeps its status line (warc/revisit.py)
            code = rec.http_headers.get_statuscode()
            status = int(code) if code and code.isdigit() else 0
    # content_stream() undoes HTTP transfer/content encodings; other blocks are read as is.
    body = rec.content_stream().read() if rec.http_headers is not None else rec.raw_stream.read()
    return Record(pointer, rec.rec_type, headers, status, http_headers, body)


class ByteStream(Protocol):
    """Anything warcio can read a WARC from: an open file or a decrypting reader."""

    def read(self, size: int = -1, /) -> bytes | None: ...


def iter_records(stream: ByteStream, filename: str) -> Iterator[Record]:
    """Every record of a WARC with its pointer (offset and length of its gzip member)."""
    it = ArchiveIterator(stream, check_digests=False)
    for rec in it:
        # The body must be read before asking for offset and length: warcio's
        # get_record_offset() reads the record to its end, leaving nothing to read.
        record_id = rec.rec_headers.get_header("WARC-Record-ID") or ""
        partial = _to_record(rec, WarcPointer(filename, 0, 0, record_id))
        pointer = WarcPointer(filename, it.get_record_offset(), it.get_record_length(), record_id)
        yield Record(
            pointer,
            partial.rec_type,
            partial.headers,
            partial.http_status,
            partial.http_headers,
            partial.body,
        )


def read_record(data: bytes, pointer: WarcPointer) -> Record:
    """Parse the bytes of exactly one record (as read by pointer from any store)."""
    it = ArchiveIterator(io.BytesIO(data), check_digests=False)
    for rec in it:
        return _to_record(rec, pointer)
    raise ValueError(f"no WARC record at {pointer.filename}@{pointer.offset}")
