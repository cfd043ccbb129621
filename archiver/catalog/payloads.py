"""The `stored_payloads` table: the latest payload stored per account and target URI.

The indexer writes it from response records (capture path, spool recovery and `catalog
rebuild` alike, so a rebuilt catalog has the same rows); the poller reads it back before a
capture so the session can write a `revisit` record for a payload already stored
(archiver/warc/revisit.py). A row whose WARC the catalog no longer lists (destroyed under
retention) is never handed to a capture: a revisit must always find its original.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archiver.catalog import tables as t
from archiver.core.models import WarcPointer
from archiver.warc.reader import Record
from archiver.warc.revisit import StoredPayload, dedupable, uri_key


class PayloadRows:
    """Upserts one account's rows while a WARC is indexed (one query to preload them)."""

    def __init__(self, session: Session, account_pk: int) -> None:
        self.session = session
        self.account_pk = account_pk
        self._rows: dict[str, t.StoredPayload] | None = None

    def _loaded(self) -> dict[str, t.StoredPayload]:
        if self._rows is None:
            rows = self.session.scalars(
                select(t.StoredPayload).where(t.StoredPayload.account_pk == self.account_pk))
            self._rows = {row.uri_sha256: row for row in rows}
        return self._rows

    def record(self, record: Record, body_size: int | None = None) -> None:
        """A response record: it is now the latest payload stored for its URI. Revisits and
        answers the capture never deduplicates (errors, truncated, empty) change nothing.
        `body_size`: for a record whose body the caller did not keep (a journaled media
        record), what it was, so both indexing paths judge it alike."""
        if record.rec_type != "response":
            return
        digest = record.headers.get("WARC-Payload-Digest", "")
        truncated = "WARC-Truncated" in record.headers
        body = record.body if body_size is None or record.body else b"." * min(body_size, 1)
        if not digest or not dedupable(record.http_status, body, truncated):
            return
        key = uri_key(record.target_uri)
        rows = self._loaded()
        row = rows.get(key)
        ptr = record.pointer
        if row is None:
            row = rows[key] = t.StoredPayload(account_pk=self.account_pk, uri_sha256=key,
                                              target_uri=record.target_uri)
            self.session.add(row)
        elif (record.date, ptr.filename, ptr.offset) < (row.warc_date, row.warc_file, row.warc_offset):
            return  # an older WARC indexed late (a spool recovery): the newest one stays, as on rebuild
        row.payload_digest = digest
        row.record_id = ptr.record_id
        row.warc_date = record.date
        row.warc_file, row.warc_offset, row.warc_length = ptr.filename, ptr.offset, ptr.length


def stored_payloads(session: Session, account_pk: int) -> dict[str, StoredPayload]:
    """The account's stored payloads by target URI, for a capture session; only those whose
    WARC is still stored and catalogued (one indexed query)."""
    rows = session.execute(
        select(t.StoredPayload)
        .join(t.WarcFile, t.WarcFile.name == t.StoredPayload.warc_file)
        .where(t.StoredPayload.account_pk == account_pk)
    ).scalars()
    return {
        row.target_uri: StoredPayload(
            row.target_uri, row.payload_digest, row.warc_date,
            WarcPointer(row.warc_file, row.warc_offset, row.warc_length, row.record_id),
        )
        for row in rows
    }


def forget_files(session: Session, names: Iterable[str]) -> None:
    """Objects destroyed: nothing may refer to their records any more."""
    wanted = sorted(set(names))
    if wanted:
        session.execute(delete(t.StoredPayload).where(t.StoredPayload.warc_file.in_(wanted)))
