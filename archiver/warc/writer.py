"""WARC/1.1 files written in the spool, sealed atomically, one gzip member per record.

warcio does the record framing; we override its digests (sha256 in lowercase hex, the IIPC
community recommendation, instead of sha1 Base32) and drop the payload digest on metadata
records, which have no payload. `WARC-Date` is written in whole seconds: JHOVE rejects 1.1's
fractional seconds, and file order already orders records.

Idle cycles store little (issue 12): a `request` record carries no `WARC-Warcinfo-ID` (the
warcinfo opens its file; its `WARC-Concurrent-To` names its response) and no `WARC-Payload-Digest` when
it has no body (a GET's empty payload); a `revisit` record has no block at all (WARC 1.1
§6.7.2 allows it, Content-Length 0: see archiver.warc.revisit for what that leaves out and
why), so no Content-Type, no block digest of nothing and no `WARC-Warcinfo-ID` (it is in the
file its warcinfo opens, as its request is); the warcinfo record holds what an archivist and
`catalog rebuild` need, once per file.

A file being written ends in `.open`; sealing fsyncs it and renames it to its final name, so
a crash can leave an `.open` file but never a sealed one that is incomplete.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archiver.core.models import WarcPointer
from archiver.warc.revisit import StoredPayload, revisit_headers

OPEN_SUFFIX = ".open"
SOFTWARE = "district-social-archiver/0.1 (warcio)"


class _HexDigester(Digester):
    def __str__(self) -> str:
        return f"{self.type_}:{self.digester.hexdigest()}"


class SpecWARCWriter(WARCWriter):
    NO_PAYLOAD_DIGEST_TYPES = ("warcinfo", "revisit", "metadata")

    @staticmethod
    def _create_digester() -> Digester:
        return _HexDigester("sha256")

    def ensure_digest(self, record: object, block: bool = True, payload: bool = True) -> None:
        """No payload digest on a request record without a body (a GET has no payload) and
        no block digest on a revisit without a block: the digest of nothing says nothing
        (WARC 1.1 §5.8-5.9 make both fields optional)."""
        rec_type = getattr(record, "rec_type", "")
        if rec_type == "request" and getattr(record, "payload_length", None) == 0:
            payload = False
        if rec_type == "revisit" and getattr(record, "http_headers", None) is None:
            block = False
        super().ensure_digest(record, block=block, payload=payload)


class _HashingFile(io.RawIOBase):
    """Counts and hashes bytes on their way to disk, so sealing never re-reads the file."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]  # BufferedIOBase takes any buffer; we take bytes
        view = memoryview(data)
        self.raw.write(view)
        self.sha256.update(view)
        self.position += len(view)
        return len(view)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.raw.flush()


def warc_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


@dataclass(frozen=True, slots=True)
class SealedWarc:
    name: str
    path: Path
    size: int
    sha256: str
    records: int
    first_date: datetime
    last_date: datetime


@dataclass(frozen=True, slots=True)
class HttpMessage:
    """An HTTP message ready to be written: secrets already removed by the caller."""

    statusline: str  # "GET /path HTTP/1.1" or "200 OK"
    headers: Sequence[tuple[str, str]]
    body: bytes = b""


class WarcFile:
    """One WARC being written. Not thread-safe: one writer per capture cycle."""

    def __init__(self, spool: Path, name: str, info: dict[str, str], *, now: datetime) -> None:
        spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.name = name
        self.final_path = spool / name
        self.path = spool / (name + OPEN_SUFFIX)
        # 0600 whatever the umask: the plaintext holds the public's and students' words
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb")  # closed in seal()/abandon()
        self._out = _HashingFile(self._fh)
        self._writer = SpecWARCWriter(self._out, gzip=True, warc_version="1.1")
        self.records = 0
        self.first_date = now
        self.last_date = now
        # No `conformsTo` URL: the version line and `format` say WARC 1.1 already, and an idle
        # cycle's file is mostly this record (issue 12).
        fields = {"software": SOFTWARE, "format": "WARC File Format 1.1",
                  "hostname": socket.gethostname()}
        fields.update(info)
        record = self._writer.create_warcinfo_record(name, fields)
        record.rec_headers.replace_header("WARC-Date", warc_date(now))
        self.warcinfo_id = record.rec_headers.get_header("WARC-Record-ID")
        self._write(record)

    @property
    def size(self) -> int:
        return self._out.position

    def _write(self, record: object) -> WarcPointer:
        start = self._out.position
        self._writer.write_record(record)
        self.records += 1
        rec_headers = record.rec_headers  # type: ignore[attr-defined]  # a warcio ArcWarcRecord (untyped library)
        return WarcPointer(
            filename=self.name,
            offset=start,
            length=self._out.position - start,
            record_id=rec_headers.get_header("WARC-Record-ID"),
        )

    def write_exchange(
        self,
        target_uri: str,
        request: HttpMessage,
        response: HttpMessage,
        *,
        when: datetime,
        extra_headers: dict[str, str] | None = None,
        ip_address: str | None = None,
        revisit_of: StoredPayload | None = None,
    ) -> tuple[WarcPointer, WarcPointer]:
        """Write response then request (warcio's order), linked by WARC-Concurrent-To.

        With `revisit_of` (a stored payload identical to `response.body`: the caller checked
        the digest) the response is written as a `revisit` record without a block: the fields
        naming the original and the payload digest (archiver.warc.revisit)."""
        date = warc_date(when)
        self.last_date = when
        resp_headers = {"WARC-Date": date}
        if revisit_of is None:
            resp_headers["WARC-Warcinfo-ID"] = self.warcinfo_id
        if ip_address:
            resp_headers["WARC-IP-Address"] = ip_address
        resp_headers.update(extra_headers or {})
        http_headers = StatusAndHeaders(response.statusline, list(response.headers), protocol="HTTP/1.1")
        if revisit_of is not None:
            resp_headers.update(revisit_headers(revisit_of))
            resp = self._writer.create_revisit_record(
                target_uri,
                revisit_of.payload_digest,
                revisit_of.target_uri,
                warc_date(revisit_of.date),
                warc_headers_dict=resp_headers,
            )
            resp.content_type = None  # no block: nothing to type (warcio would say message/http)
        else:
            resp = self._writer.create_warc_record(
                target_uri,
                "response",
                payload=io.BytesIO(response.body),
                length=None,
                warc_headers_dict=resp_headers,
                http_headers=http_headers,
            )
        # No WARC-Warcinfo-ID: the warcinfo opens the file, and WARC-Concurrent-To names the response.
        req = self._writer.create_warc_record(
            target_uri,
            "request",
            payload=io.BytesIO(request.body),
            length=len(request.body),
            warc_headers_dict={"WARC-Date": date},
            http_headers=StatusAndHeaders(
                request.statusline, list(request.headers), is_http_request=True
            ),
        )
        req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID"))
        resp_ptr = self._write(resp)
        req_ptr = self._write(req)
        return resp_ptr, req_ptr

    def write_metadata(
        self,
        fields: dict[str, str],
        *,
        when: datetime,
        refers_to: str | None = None,
        concurrent_to: str | None = None,
        target_uri: str | None = None,
    ) -> WarcPointer:
        """A conclusion of the archiver (edit, deletion) as application/warc-fields."""
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode("utf-8")
        headers = {"WARC-Date": warc_date(when), "WARC-Warcinfo-ID": self.warcinfo_id}
        if refers_to:
            headers["WARC-Refers-To"] = refers_to
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        record = self._writer.create_warc_record(
            target_uri or "",
            "metadata",
            payload=io.BytesIO(body),
            length=len(body),
            warc_content_type="application/warc-fields",
            warc_headers_dict=headers,
        )
        if not target_uri:
            record.rec_headers.remove_header("WARC-Target-URI")
        self.last_date = when
        return self._write(record)

    def seal(self) -> SealedWarc:
        """fsync, rename to the final name, fsync the folder: the file is now immutable."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.path, self.final_path)
        fsync_dir(self.final_path.parent)
        return SealedWarc(
            name=self.name,
            path=self.final_path,
            size=self._out.position,
            sha256=self._out.sha256.hexdigest(),
            records=self.records,
            first_date=self.first_date,
            last_date=self.last_date,
        )

    def abandon(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def warc_name(prefix: str, when: datetime, serial: int = 0) -> str:
    """Annex C naming: Prefix-Timestamp-Serial-Crawlhost.warc.gz.

    The 17-digit timestamp (milliseconds) and the serial within a cycle make names of one
    account sort in the order they were written, which `catalog rebuild` relies on; the random
    suffix keeps names unique across machines.
    """
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in prefix)[:80]
    utc = when.astimezone(UTC)
    stamp = utc.strftime("%Y%m%d%H%M%S") + f"{utc.microsecond // 1000:03d}"
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:40]
    return f"{safe}-{stamp}-{serial:05d}{uuid.uuid4().hex[:6]}-{host}.warc.gz"
