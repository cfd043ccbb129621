"""Audit use cases: record an event, list the log, verify the hash chain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog.audit import AuditRecord, ChainVerdict
from archiver.core.actor import current_actor

__all__ = ["AuditRecord", "ChainVerdict", "record", "list_entries", "verify"]


def record(app: App, action: str, *, subject: str = "", details: Mapping[str, Any] | None = None,
           actor: str | None = None) -> AuditRecord:
    """An event on its own (searches, exports); changes record theirs in their own transaction."""
    with app.catalog.session() as s:
        return audit.append(s, actor=actor or current_actor(), action=action, subject=subject,
                            details=details, at=app.clock.now())


def list_entries(app: App, *, subject: str | None = None, action_prefix: str | None = None,
                 limit: int | None = None) -> list[AuditRecord]:
    """Newest first, as an officer reads a log."""
    with app.catalog.session() as s:
        return audit.entries(s, subject=subject, action_prefix=action_prefix, limit=limit,
                             newest_first=True)


def verify(app: App) -> ChainVerdict:
    with app.catalog.session() as s:
        return audit.verify_chain(s)
