"""The records of a WARC as they were written, kept in memory for the capture-side indexer.

Live capture used to store a WARC, then decrypt it and parse it back to index it (issue 13:
half of a capture's CPU). The writer already knows every record it wrote: its headers, its
HTTP status and headers, its body and where it landed in the file. A journaled WARC keeps
that as the same `Record`s `iter_records` would read back, so the indexer runs one code path
on both (rebuild and the spool sweep still read the stored file; a test proves the catalogs
agree). Bodies are kept only where the indexer reads them (warcinfo, responses, metadata);
a media body is reduced to its size, so a large video is never held twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.core.models import WarcPointer
from archiver.warc.fields import PURPOSE_HEADER
from archiver.warc.reader import Record
from archiver.warc.writer import SealedWarc, WarcFile

_KEEP_BODY = ("warcinfo", "response", "metadata")


@dataclass
class WarcJournal:
    """Every record of one WARC, in file order, and the sealed file's facts."""

    records: list[Record] = field(default_factory=list)
    media_sizes: dict[str, int] = field(default_factory=dict)  # record id -> body bytes
    sealed: SealedWarc | None = None
    # original record id -> the payload a revisit of it stands for (the capture session had
    # those bytes in hand): the indexer resolves the revisit without reading the store back.
    revisit_payloads: dict[str, bytes] = field(default_factory=dict)
    # record id -> what the harvest's parser made of that response (connectors.base.ParseMemo,
    # set by the poller): the indexer does not parse the same JSON twice.
    parsed: dict[str, Any] = field(default_factory=dict)
    # Set by the poller on the first WARC of a run it has just opened: the run's row exists
    # and nothing of the run is indexed yet, so the indexer asks the catalog neither.
    new_run: bool = False
    # Set by the poller: the account's (id, name, role) as its opening transaction read them,
    # so the indexer does not look the account up again by the warcinfo's platform and id.
    account: tuple[int, str, str] | None = None


class JournaledWarcFile(WarcFile):
    """A WarcFile that also keeps a `WarcJournal` of what it wrote."""

    def __init__(self, spool: Path, name: str, info: dict[str, str], *, now: datetime) -> None:
        self.journal = WarcJournal()  # before super(): it writes the warcinfo record
        super().__init__(spool, name, info, now=now)

    def _write(self, record: Any) -> WarcPointer:
        pointer = super()._write(record)
        headers = dict(record.rec_headers.headers)
        rec_type = record.rec_type
        http = record.http_headers
        status, http_headers = 0, ()
        if http is not None and rec_type in ("response", "request", "revisit"):  # as reader.py reads them
            http_headers = tuple(http.headers)
            if rec_type in ("response", "revisit"):
                code = http.get_statuscode()
                status = int(code) if code and code.isdigit() else 0
        body = b""
        if rec_type in _KEEP_BODY:
            # The payload stream (warcio may have swapped ours for its seekable spooled copy)
            # holds exactly the body; it was written, so it is read again from its start.
            stream = record.raw_stream
            stream.seek(0)
            body = stream.read()
            if rec_type == "response" and headers.get(PURPOSE_HEADER) == "media":
                self.journal.media_sizes[pointer.record_id] = len(body)
                body = b""
        self.journal.records.append(Record(pointer, rec_type, headers, status, http_headers, body))
        return pointer

    def seal(self) -> SealedWarc:
        sealed = super().seal()
        self.journal.sealed = sealed
        return sealed
