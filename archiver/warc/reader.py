"""Read WARC records back: whole files for rebuild, single records by pointer.

Bodies are streamed, never assumed small: `iter_records` keeps in memory only the bodies a
parser needs (API responses, metadata, requests) and reads past the others (media, by
default) in 64 KiB pieces, recording only their size, so a 200 MiB video costs 64 KiB of
memory instead of its size (twice) while a WARC is indexed or rebuilt.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from archiver.core.models import CapturedExchange, WarcPointer
from archiver.warc.fields import PURPOSE_HEADER

_PIECE = 1 << 16  # bytes of a streamed body read at a time


@dataclass(frozen=True, slots=True)
class Record:
    pointer: WarcPointer
    rec_type: str
    headers: dict[str, str]
    http_status: int
    http_headers: tuple[tuple[str, str], ...]
    body: bytes  # empty when the body was streamed past (see `streamed_size`)
    # The body's length when it was read past without being kept (a media record); None when
    # `body` holds it. `size` gives the length either way.
    streamed_size: int | None = None

    @property
    def size(self) -> int:
        """The body's length in bytes (HTTP encodings undone), kept or streamed past."""
        return len(self.body) if self.streamed_size is None else self.streamed_size

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


KeepBody = Callable[[Mapping[str, str]], bool]


def keeps_body(warc_headers: Mapping[str, str]) -> bool:
    """The default: keep every body but a media record's (parsers never read those)."""
    return warc_headers.get(PURPOSE_HEADER) != "media"


def keep_all(_warc_headers: Mapping[str, str]) -> bool:
    return True


def _body_stream(rec: ArcWarcRecord) -> Any:
    # content_stream() undoes HTTP transfer/content encodings; other blocks are read as is.
    return rec.content_stream() if rec.http_headers is not None else rec.raw_stream


def _drain(stream: Any) -> int:
    """Read a body to its end in pieces; its length (nothing of it is kept)."""
    size = 0
    while piece := stream.read(_PIECE):
        size += len(piece)
    return size


def _to_record(rec: ArcWarcRecord, pointer: WarcPointer, keep_body: KeepBody = keep_all) -> Record:
    headers = {k: v for k, v in rec.rec_headers.headers}
    status = 0
    http_headers: tuple[tuple[str, str], ...] = ()
    if rec.http_headers is not None and rec.rec_type in ("response", "request", "revisit"):
        http_headers = tuple(rec.http_headers.headers)
        if rec.rec_type in ("response", "revisit"):  # a revisit keeps its status line (warc/revisit.py)
            code = rec.http_headers.get_statuscode()
            status = int(code) if code and code.isdigit() else 0
    stream = _body_stream(rec)
    if keep_body(headers):
        return Record(pointer, rec.rec_type, headers, status, http_headers, stream.read())
    return Record(pointer, rec.rec_type, headers, status, http_headers, b"", _drain(stream))


class ByteStream(Protocol):
    """Anything warcio can read a WARC from: an open file or a decrypting reader."""

    def read(self, size: int = -1, /) -> bytes | None: ...


def iter_records(stream: ByteStream, filename: str, *, keep_body: KeepBody = keeps_body) -> Iterator[Record]:
    """Every record of a WARC with its pointer (offset and length of its gzip member).

    A record whose WARC headers `keep_body` refuses (by default: media) comes with an empty
    `body` and its length in `streamed_size`; memory stays flat whatever the bodies' sizes.
    """
    it = ArchiveIterator(stream, check_digests=False)
    for rec in it:
        # The body must be read before asking for offset and length: warcio's
        # get_record_offset() reads the record to its end, leaving nothing to read.
        record_id = rec.rec_headers.get_header("WARC-Record-ID") or ""
        partial = _to_record(rec, WarcPointer(filename, 0, 0, record_id), keep_body)
        pointer = WarcPointer(filename, it.get_record_offset(), it.get_record_length(), record_id)
        yield dataclasses.replace(partial, pointer=pointer)


def read_record(data: bytes, pointer: WarcPointer, *, keep_body: KeepBody = keep_all) -> Record:
    """Parse the bytes of exactly one record (as read by pointer from any store); its body is
    kept unless `keep_body` says otherwise (the bytes are in memory already)."""
    it = ArchiveIterator(io.BytesIO(data), check_digests=False)
    for rec in it:
        return _to_record(rec, pointer, keep_body)
    raise ValueError(f"no WARC record at {pointer.filename}@{pointer.offset}")
