"""WARC `revisit` records: a response identical to one already stored is not stored again.

Heritrix practice, WARC 1.1 §6.7.2 (profile identical-payload-digest): when a response's
payload has the same digest as the latest payload stored for the same target URI, the capture
writes a `revisit` record instead of a `response`. The profile requires only
`WARC-Payload-Digest` (that of the payload it did not repeat) and lets the record have no block
("in which case a Content-Length of zero must be written"; a block that is present must carry
`WARC-Truncated: length`). This archiver writes no block: only complete 200 answers are
deduplicated (`dedupable`), so the status line says nothing the original does not, and the
headers that describe the payload (type, length, validators) describe the same bytes; the
revisit's own `WARC-Date` and `WARC-IP-Address` say when and from where it was seen again,
and its request record what was asked. A block of status line and evidence headers cost a
third of each revisit, and an idle cycle is mostly revisits (issue 12). What only the new
answer carried (its HTTP `Date`, a `Link` or quota header) is not kept: nothing reads it.
`WARC-Refers-To` / `WARC-Refers-To-Target-URI` / `WARC-Refers-To-Date` name the original.
This archiver also writes where the original lies (`X-Archiver-Refers-To-Location`,
`file#offset+length`): the original may be in another stored object, and every reader needs
its bytes.

Readers resolve a revisit to its original and treat it as "seen again, unchanged": the parser
sees the original's payload, status and headers with the revisit's own date (a revisit written
by an earlier version of this archiver has a block of status line and evidence headers: those
are used instead of the original's). The resolved
record keeps the revisit's pointer (an observation may point at it) and says where the content
lies (`content_pointer`: versions point there, where the content first appeared).

Only what the caller hands over as already stored (sealed, stored and catalogued) or written
earlier in the same WARC file may be referred to, so a reader always finds the original unless
retention destroyed it since; that case is one line (`UnresolvedRevisit`), never a crash.

This module knows only WARC records: fetching the original's bytes is the caller's (a
function from a pointer to a Record).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from archiver.core.errors import ArchiverError
from archiver.core.models import WarcPointer
from archiver.warc.fields import location, split_location
from archiver.warc.reader import Record

log = logging.getLogger(__name__)

PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
LOCATION_HEADER = "X-Archiver-Refers-To-Location"
# Set on a resolved revisit's header dict (in memory only, never written): the original's
# location, so `content_pointer` knows where the content lies.
_RESOLVED = "X-Archiver-Resolved-Original"

Fetch = Callable[[WarcPointer], Record]


class UnresolvedRevisit(ArchiverError):
    """A revisit whose original cannot be read (destroyed under retention, or damaged)."""


@dataclass(frozen=True, slots=True)
class StoredPayload:
    """The latest payload stored for one target URI: what a revisit may refer to."""

    target_uri: str
    payload_digest: str  # "sha256:<hex>", as the writer labels WARC-Payload-Digest
    date: datetime  # the original's WARC-Date
    pointer: WarcPointer  # the original response record (its record id included)

    @property
    def record_id(self) -> str:
        return self.pointer.record_id


def payload_digest(body: bytes) -> str:
    """The WARC-Payload-Digest the writer gives a response with this (stored) body."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def dedupable(status: int, body: bytes, truncated: bool) -> bool:
    """Only complete 200 answers with a payload are deduplicated: error answers (a deletion's
    404 evidence, a rate limit) stay whole responses, and an empty body saves nothing."""
    return status == 200 and bool(body) and not truncated


def uri_key(target_uri: str) -> str:
    """The catalog key of a target URI (sha256 hex of the URI as written)."""
    return hashlib.sha256(target_uri.encode("utf-8")).hexdigest()


class PayloadIndex:
    """What a capture session may refer to: the account's stored payloads (preloaded from the
    catalog) and those written earlier into the WARC file still open.

    A response written into a file that has since rolled over is not referred to: that file
    is sealed but not yet stored, so the catalog does not list it (the rule that keeps every
    original readable)."""

    def __init__(self, stored: Mapping[str, StoredPayload] | None = None) -> None:
        self._stored: Mapping[str, StoredPayload] = stored or {}
        self._written: dict[str, StoredPayload] = {}
        self.revisits = 0
        self.bytes_saved = 0

    def original_for(self, target_uri: str, digest: str, current_file: str,
                     payload_size: int) -> StoredPayload | None:
        """The stored payload this one repeats, if a revisit record would be smaller than
        the response (a tiny body costs less than the fields that name its original)."""
        found = None
        written = self._written.get(target_uri)
        if written is not None and written.pointer.filename == current_file and written.payload_digest == digest:
            found = written
        else:
            stored = self._stored.get(target_uri)
            if stored is not None and stored.payload_digest == digest:
                found = stored
        if found is None or payload_size <= revisit_overhead(target_uri, found):
            return None
        return found

    def wrote(self, payload: StoredPayload) -> None:
        self._written[payload.target_uri] = payload


def revisit_overhead(target_uri: str, original: StoredPayload) -> int:
    """Bytes of the WARC fields a revisit adds to what a response record carries."""
    fields = {**revisit_headers(original), "WARC-Profile": PROFILE,
              "WARC-Refers-To-Target-URI": original.target_uri,
              "WARC-Refers-To-Date": "2026-01-01T00:00:00Z"}
    return sum(len(k) + len(v) + 4 for k, v in fields.items())


def revisit_headers(original: StoredPayload) -> dict[str, str]:
    """WARC fields of a revisit to `original` besides those warcio writes itself."""
    ptr = original.pointer
    return {
        "WARC-Refers-To": ptr.record_id,
        LOCATION_HEADER: location(ptr.filename, ptr.offset, ptr.length),
    }


# --- reading -------------------------------------------------------------------------------


def is_revisit(record: Record) -> bool:
    return record.rec_type == "revisit"


def is_resolved(record: Record) -> bool:
    return _RESOLVED in record.headers


def original_pointer(record: Record) -> WarcPointer | None:
    """Where the revisit says its original lies (None: it does not say)."""
    name, offset, length = split_location(record.headers.get(LOCATION_HEADER, ""))
    if not name or not length:
        return None
    return WarcPointer(name, offset, length, record.headers.get("WARC-Refers-To", ""))


def content_pointer(record: Record) -> WarcPointer:
    """The record whose block holds this record's payload: the original for a resolved
    revisit, the record itself otherwise."""
    if is_resolved(record):
        name, offset, length = split_location(record.headers[_RESOLVED])
        return WarcPointer(name, offset, length, record.headers.get("WARC-Refers-To", ""))
    return record.pointer


def describe(record: Record) -> str:
    ptr = original_pointer(record)
    where = f" in {ptr.filename}" if ptr else ""
    return (f"revisit {record.pointer.record_id} in {record.pointer.filename} refers to "
            f"{record.headers.get('WARC-Refers-To', '?')}{where}")


def resolve(record: Record, fetch: Fetch) -> Record:
    """The revisit with its original's payload (and its own status, headers and date).

    Raises UnresolvedRevisit (one line: what it means and what to do) when the original is
    gone or is not the record the revisit names."""
    if not is_revisit(record) or is_resolved(record):
        return record
    ptr = original_pointer(record)
    if record.headers.get("WARC-Profile") != PROFILE or ptr is None:
        raise UnresolvedRevisit(
            f"{describe(record)} with a profile or location this archiver does not resolve; "
            "it counts as seen again but its content is read from the original only"
        )
    try:
        original = fetch(ptr)
    except Exception as exc:  # noqa: BLE001 - any store, vault or catalog failure means the same here
        reason = exc.message if isinstance(exc, ArchiverError) else f"{type(exc).__name__}: {exc}"
        raise UnresolvedRevisit(
            f"{describe(record)}, which can no longer be read ({reason.splitlines()[0] if reason else '?'}); "
            "destroyed under retention or damaged: the items it held were seen again unchanged "
            "but which ones is unknown"
        ) from None
    want_id = record.headers.get("WARC-Refers-To", "")
    digest = record.headers.get("WARC-Payload-Digest", "")
    if original.rec_type != "response" or (want_id and original.pointer.record_id != want_id):
        raise UnresolvedRevisit(
            f"{describe(record)}, but that location holds {original.pointer.record_id or 'another record'}; "
            "run 'archiver verify' on both objects"
        )
    if digest.startswith("sha256:") and payload_digest(original.body) != digest:
        raise UnresolvedRevisit(
            f"{describe(record)}, whose payload no longer matches the revisit's digest; "
            "run 'archiver verify' on both objects"
        )
    headers = dict(record.headers)
    headers[_RESOLVED] = location(ptr.filename, ptr.offset, ptr.length)
    status = record.http_status or original.http_status
    http_headers = record.http_headers or original.http_headers
    return replace(record, headers=headers, http_status=status, http_headers=http_headers,
                   body=original.body)


def resolving(records: Iterable[Record], fetch: Fetch,
              on_unresolved: Callable[[Record, UnresolvedRevisit], None] | None = None) -> Iterator[Record]:
    """`records` with each revisit resolved; an unresolvable one is passed on unresolved
    (readers skip its content) after `on_unresolved` (default: a logged warning) hears of it."""
    for record in records:
        if is_revisit(record):
            try:
                record = resolve(record, fetch)
            except UnresolvedRevisit as exc:
                if on_unresolved is not None:
                    on_unresolved(record, exc)
                else:
                    log.warning("%s", exc.message)
        yield record
