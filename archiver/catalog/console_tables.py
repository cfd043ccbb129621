"""The web console's own state in the catalog: its users and the two-person disposition approvals.

Not from the WARCs, so `catalog rebuild --apply` keeps it. Passwords are argon2id hashes; a
proxy-only user (the district's single sign-on names them) has no hash at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archiver.catalog.tables import Base


class ConsoleUser(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(255))
    # Login throttling lives with the user, so it holds across restarts and several workers.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DispositionApproval(Base):
    """A destruction proposed by one records officer and confirmed (carried out) by another."""

    __tablename__ = "disposition_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[datetime]
    objects: Mapped[int] = mapped_column(Integer)  # eligible objects when proposed
    proposed_by: Mapped[str] = mapped_column(String(255))
    proposed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed|done|cancelled
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    certificate_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
