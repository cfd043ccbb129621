"""Catalog tables of the retention engine (migration 0005_retention).

Classification rows are derived (index time, rebuildable); schedules adopted, verifications,
holds, dispositions and certificates are records of decisions and are never derived, so
`catalog rebuild --apply` keeps them. Holds and dispositions name items by their natural key
(platform, item_id), never by row id, so they survive a rebuild and the item's own removal.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archiver.catalog.tables import Base


class ItemRetention(Base):
    """The series an item falls under, the rule that chose it, and its retain-until."""

    __tablename__ = "item_retention"
    # what comes due next, without sorting every row (the console's dashboard; migration 0019)
    __table_args__ = (Index("ix_item_retention_due", "retain_until", "item_pk"),)

    item_pk: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    series: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    schedule: Mapped[str | None] = mapped_column(String(64), nullable=True)
    series_source: Mapped[str] = mapped_column(String(16), default="state")  # state | district
    rule: Mapped[str] = mapped_column(Text, default="")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # no rule chose it
    trigger_at: Mapped[datetime | None] = mapped_column(nullable=True)
    retain_until: Mapped[datetime | None] = mapped_column(nullable=True)  # None: no end date yet
    # The latest retain-until ever assigned: a new computation never returns an earlier date.
    retain_floor: Mapped[datetime | None] = mapped_column(nullable=True)
    waits_for: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str] = mapped_column(String(32), default="")  # schedule + role it used
    classified_at: Mapped[datetime]


class AdoptedSchedule(Base):
    """A district schedule file adopted over the state's (`schedules adopt`), with its approval."""

    __tablename__ = "adopted_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(8), index=True)
    district: Mapped[str] = mapped_column(String(255))
    file_name: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str] = mapped_column(String(255))
    approved_on: Mapped[str] = mapped_column(String(32))
    approval_reference: Mapped[str] = mapped_column(Text, default="")
    adopted_by: Mapped[str] = mapped_column(String(255))
    adopted_at: Mapped[datetime]
    retired_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SeriesVerification(Base):
    """A records officer's confirmation of one series against the official schedule.

    Bound to the series text it confirmed (`series_digest`): if the file changes, the
    confirmation no longer applies and the series holds again."""

    __tablename__ = "series_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    series: Mapped[str] = mapped_column(String(64), index=True)
    series_digest: Mapped[str] = mapped_column(String(64))
    citation: Mapped[str] = mapped_column(Text)
    verified_by: Mapped[str] = mapped_column(String(255))
    recorded_by: Mapped[str] = mapped_column(String(255))
    verified_at: Mapped[datetime]


class Hold(Base):
    """A litigation hold or the hold an open public records request places."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # litigation | request
    reason: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    account: Mapped[str | None] = mapped_column(String(300), nullable=True)  # platform:account_id
    since: Mapped[datetime | None] = mapped_column(nullable=True)
    until: Mapped[datetime | None] = mapped_column(nullable=True)
    query: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None] = mapped_column(nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class HoldItem(Base):
    """Items a hold names explicitly (by id or by a search), beyond its account/date scope."""

    __tablename__ = "hold_items"
    __table_args__ = (UniqueConstraint("hold_id", "platform", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(255))


class ObjectRetention(Base):
    """What the engine asked of the store for one stored WARC (for plans and reconcile)."""

    __tablename__ = "object_retention"

    warc_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    lock_until: Mapped[datetime | None] = mapped_column(nullable=True)  # Object Lock we set
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class DestructionCertificate(Base):
    __tablename__ = "destruction_certificates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[datetime]
    as_of: Mapped[datetime]
    approver: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(255))
    items: Mapped[int] = mapped_column(Integer)
    objects: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)  # the canonical JSON that was signed
    signature: Mapped[str] = mapped_column(Text, default="")  # base64; "" when unsigned
    key_id: Mapped[str] = mapped_column(String(255), default="")
    public_key_pem: Mapped[str] = mapped_column(Text, default="")


class Disposition(Base):
    """What is left of a destroyed (or transferred) item: who, which series, which dates."""

    __tablename__ = "dispositions"
    __table_args__ = (UniqueConstraint("platform", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(255))
    account: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(8))
    series: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime | None] = mapped_column(nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    retain_until: Mapped[datetime]
    disposed_at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(16))  # destroyed | transferred
    certificate_id: Mapped[str] = mapped_column(String(64), index=True)
    objects: Mapped[list] = mapped_column(JSON, default=list)
