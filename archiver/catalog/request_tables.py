"""Public records requests in the catalog: the register, searches, responsive items, decisions.

None of this comes from the WARCs, so `catalog rebuild --apply` keeps it. Items are named by
(platform, item_id), never by surrogate key, so a rebuilt catalog still answers for them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archiver.catalog.tables import Base


class RecordsRequest(Base):
    __tablename__ = "records_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # PRR-2026-0001
    requester: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(2))
    via: Mapped[str] = mapped_column(String(16), default="")
    received: Mapped[date] = mapped_column(Date)
    legally_received: Mapped[date] = mapped_column(Date)
    first_response_due: Mapped[date] = mapped_column(Date)
    due: Mapped[date] = mapped_column(Date)  # the statutory due date, or the extension's
    statutory_due: Mapped[date] = mapped_column(Date)
    due_earliest: Mapped[date] = mapped_column(Date)
    due_latest: Mapped[date] = mapped_column(Date)
    rule: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(255))
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class RequestExtension(Base):
    __tablename__ = "request_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("records_requests.id"), index=True)
    until: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime]


class RequestSearch(Base):
    """How the responsive set was found: the query and filters as the officer gave them."""

    __tablename__ = "request_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("records_requests.id"), index=True)
    query: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    results: Mapped[int] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime]


class RequestItem(Base):
    __tablename__ = "request_items"
    __table_args__ = (UniqueConstraint("request_id", "platform", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("records_requests.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(255))
    search_id: Mapped[int | None] = mapped_column(ForeignKey("request_searches.id"), nullable=True)
    added_by: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime]


class RequestDecision(Base):
    """Append-only review decisions: redact, withhold, release; the newest per target wins."""

    __tablename__ = "request_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("records_requests.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # the redacted words
    exemption: Mapped[str] = mapped_column(String(255), default="")
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime]


class RequestHold(Base):
    """Holds placed (by the holds service) on a request's responsive items."""

    __tablename__ = "request_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("records_requests.id"), index=True)
    hold_id: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime]
    released_at: Mapped[datetime | None] = mapped_column(nullable=True)
