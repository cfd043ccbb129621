"""The append-only audit log: who did what to the records, and when, in a hash chain.

Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting or
reordering any entry breaks every hash after it, and `verify_chain` says where. Removing the
newest entries leaves a shorter valid chain: `verify_chain` reports the head hash, which the
destruction certificates and exports quote, so a truncation shows against any copy of those.
Holds, releases, schedule verifications, retention plans and dispositions, and every step of a
public records request are entries (FERPA 34 CFR 99.32 asks districts to record disclosures).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from archiver.catalog import tables as t

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x61756469  # "audi": one advisory lock serialises appends on PostgreSQL


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    entry_hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor,
                "action": self.action, "subject": self.subject, "details": dict(self.details),
                "prev_hash": self.prev_hash, "entry_hash": self.entry_hash}


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "first_bad_seq": self.first_bad_seq,
                "problem": self.problem}


def _normalise(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """JSON-safe and stable: what is hashed is exactly what the database gives back."""
    normal: dict[str, Any] = json.loads(json.dumps(dict(details or {}), default=str, ensure_ascii=False))
    return normal


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("audit entries need an aware UTC time")
    return at.astimezone(UTC)


def entry_hash(seq: int, at: datetime, actor: str, action: str, subject: str,
               details: Mapping[str, Any], prev_hash: str) -> str:
    body = json.dumps(
        {"seq": seq, "at": _utc(at).isoformat(), "actor": actor, "action": action,
         "subject": subject, "details": details, "prev": prev_hash},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def append(session: Session, *, actor: str, action: str, subject: str = "",
           details: Mapping[str, Any] | None = None, at: datetime) -> AuditRecord:
    """Add one entry in the caller's transaction: it commits or rolls back with the change it records."""
    if not actor or not action:
        raise ValueError("an audit entry needs an actor and an action")
    _lock(session)
    head = session.execute(
        select(t.AuditEntry.seq, t.AuditEntry.entry_hash).order_by(t.AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    when = _utc(at)
    clean = _normalise(details)
    digest = entry_hash(seq, when, actor, action, subject, clean, prev)
    session.add(t.AuditEntry(seq=seq, at=when, actor=actor, action=action, subject=subject,
                             details=clean, prev_hash=prev, entry_hash=digest))
    session.flush()
    return AuditRecord(seq, when, actor, action, subject, clean, prev, digest)


def _record(row: t.AuditEntry) -> AuditRecord:
    return AuditRecord(row.seq, row.at, row.actor, row.action, row.subject, dict(row.details or {}),
                       row.prev_hash, row.entry_hash)


def entries(session: Session, *, subject: str | None = None, action_prefix: str | None = None,
            limit: int | None = None, newest_first: bool = False) -> list[AuditRecord]:
    query = select(t.AuditEntry)
    if subject is not None:
        query = query.where(t.AuditEntry.subject == subject)
    if action_prefix:
        query = query.where(t.AuditEntry.action.startswith(action_prefix, autoescape=True))
    query = query.order_by(t.AuditEntry.seq.desc() if newest_first else t.AuditEntry.seq)
    if limit is not None:
        query = query.limit(limit)
    return [_record(row) for row in session.scalars(query)]


def _stream(session: Session, batch: int = 2000) -> Iterator[t.AuditEntry]:
    last = 0
    while True:
        rows = list(session.scalars(
            select(t.AuditEntry).where(t.AuditEntry.seq > last).order_by(t.AuditEntry.seq).limit(batch)
        ))
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify_chain(session: Session) -> ChainVerdict:
    """Walk the whole chain in seq order; the first entry that does not fit is reported."""
    expected_seq, prev, count = 1, GENESIS, 0
    for row in _stream(session):
        problem = ""
        if row.seq != expected_seq:
            problem = (f"entry {expected_seq} is missing (next entry is {row.seq})"
                       if row.seq > expected_seq else f"entry {row.seq} is out of order")
        elif row.prev_hash != prev:
            problem = f"entry {row.seq} does not follow entry {row.seq - 1} (previous hash differs)"
        elif entry_hash(row.seq, row.at, row.actor, row.action, row.subject,
                        dict(row.details or {}), row.prev_hash) != row.entry_hash:
            problem = f"entry {row.seq} was changed after it was written (its hash does not match)"
        if problem:
            return ChainVerdict(False, count, expected_seq - 1, prev, row.seq if row.seq <= expected_seq
                                else expected_seq, problem)
        count += 1
        expected_seq, prev = row.seq + 1, row.entry_hash
    return ChainVerdict(True, count, expected_seq - 1, prev)
