"""The metadata catalog: an index over the WARCs, never the record of truth.

Everything except account registrations can be recreated from stored WARCs by
`archiver catalog rebuild`. Platform ids are strings (they overflow 64-bit integers on some
platforms and carry underscores on Graph API).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
DELETED_ONLY = "deleted_at IS NOT NULL"  # ix_items_deleted_kind's rows (see Item)


class UTCDateTime(TypeDecorator[datetime]):
    """Always aware UTC, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog; use UTC-aware values")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class Account(Base):
    __tablename__ = "accounts"
    # account_id and name: `--account SELECTOR` is looked up, not matched over every account
    __table_args__ = (UniqueConstraint("platform", "account_id"),
                      Index("ix_accounts_account_id", "account_id"), Index("ix_accounts_name", "name"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(64), default="")
    api_base: Mapped[str] = mapped_column(String(512), default="")
    # Where the token is read from at poll time ("env:VAR" or "file:/path"): never the token.
    token_ref: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(String(32), default="new")
    status_message: Mapped[str] = mapped_column(Text, default="")
    next_poll_after: Mapped[datetime | None] = mapped_column(nullable=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cursor: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime]
    # Several daemon workers share one catalog: a worker captures an account only while it
    # holds the lease; a lease that outlives its worker simply expires.
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    # The last capture that completed (a failed or throttled one moves last_polled_at only):
    # a gap of more than two intervals raises an alert (issue 14).
    last_success_at: Mapped[datetime | None] = mapped_column(nullable=True)

    @property
    def label(self) -> str:
        return f"{self.platform}:{self.account_id}"


class CaptureRun(Base):
    __tablename__ = "capture_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # uuid, also in warcinfo
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # indexed: every poll looks for runs left 'running' by a crash (Poller.recover)
    status: Mapped[str] = mapped_column(String(32), default="running", index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    exchanges: Mapped[int] = mapped_column(Integer, default=0)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    edited_items: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_items: Mapped[int] = mapped_column(Integer, default=0)
    deleted_items: Mapped[int] = mapped_column(Integer, default=0)
    quota_spent: Mapped[int] = mapped_column(Integer, default=0)  # in the platform's quota unit


class WarcFile(Base):
    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    run_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    account_pk: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    first_date: Mapped[datetime]
    last_date: Mapped[datetime]
    store_key: Mapped[str] = mapped_column(String(512))
    stored_at: Mapped[datetime]
    # Filled in by the vault: what was uploaded (ciphertext) and how to decrypt it.
    object_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    object_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(nullable=True)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("platform", "item_id"),
        # One index per lookup, so none of them reads the table (issue 13): `items show ID`
        # (the id alone, any platform), an account's items newest first, and everyone's.
        Index("ix_items_item_id", "item_id"),
        Index("ix_items_account_created", "account_pk", "created_at", "id"),
        Index("ix_items_created", "created_at", "id"),
        # The deleted items only (about 1%), by kind: a `deleted` search counts its candidate
        # items here before reading a word's archive-wide matches (migration 0020). Its
        # PostgreSQL `where` is added by all_models(): a postgresql_* argument here would make
        # SQLAlchemy import its PostgreSQL dialect in every process, on SQLite too (0.05 s of
        # a read command's start-up; tests/cli/test_lazy_cli.py).
        Index("ix_items_deleted_kind", "kind", sqlite_where=text(DELETED_ONLY)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(String(255), index=True, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(nullable=True)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # The deletion flag: set (with the tombstone) by the indexer, None while the item is live.
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The last change signal seen for the item's children (comment count, updated_time);
    # incremental capture re-reads the children when it moves. From the WARCs, like the rest.
    signal: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Kept by the indexer with every new version, so listings and a poll's "what do we know"
    # read one row per item instead of aggregating item_versions (issue 13). No foreign key:
    # items and versions reference each other, and a plain integer keeps inserts one pass.
    latest_version_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", order_by="ItemVersion.version_no"
    )
    tombstone: Mapped[Tombstone | None] = relationship(back_populates="item")


class ItemVersion(Base):
    __tablename__ = "item_versions"
    # warc_file: after each capture the retention locks look up what the new WARCs hold;
    # author: the search's author filter lists the distinct authors and their items (0020)
    __table_args__ = (UniqueConstraint("item_pk", "version_no"),
                      Index("ix_item_versions_warc_file", "warc_file"),
                      Index("ix_item_versions_author", "author", "item_pk"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_pk: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    version_no: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict] = mapped_column(JSON)
    # [{"url", "media_key", "kind", "media_id"}]: links a version to its captured media files.
    media: Mapped[list] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str] = mapped_column(String(1024), default="")
    observed_at: Mapped[datetime]
    warc_file: Mapped[str] = mapped_column(String(255))
    warc_offset: Mapped[int] = mapped_column(BigInteger)
    warc_length: Mapped[int] = mapped_column(BigInteger)
    warc_record_id: Mapped[str] = mapped_column(String(64))

    item: Mapped[Item] = relationship(back_populates="versions")


class Observation(Base):
    """Each time a run saw an item: proves it was still there, unchanged or not."""

    __tablename__ = "observations"
    __table_args__ = (UniqueConstraint("run_id", "item_pk"), Index("ix_observations_warc_file", "warc_file"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    item_pk: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    version_pk: Mapped[int] = mapped_column(ForeignKey("item_versions.id"))
    observed_at: Mapped[datetime]
    warc_file: Mapped[str] = mapped_column(String(255))
    warc_offset: Mapped[int] = mapped_column(BigInteger)
    warc_length: Mapped[int] = mapped_column(BigInteger)

    item: Mapped[Item] = relationship()
    version: Mapped[ItemVersion] = relationship()


class Tombstone(Base):
    __tablename__ = "tombstones"
    __table_args__ = (Index("ix_tombstones_evidence_file", "evidence_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_pk: Mapped[int] = mapped_column(ForeignKey("items.id"), unique=True)
    detected_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    evidence_file: Mapped[str] = mapped_column(String(255))
    evidence_offset: Mapped[int] = mapped_column(BigInteger)
    evidence_length: Mapped[int] = mapped_column(BigInteger)
    evidence_record_id: Mapped[str] = mapped_column(String(64))
    metadata_record_id: Mapped[str] = mapped_column(String(64))
    last_good_record_id: Mapped[str] = mapped_column(String(64), default="")

    item: Mapped[Item] = relationship(back_populates="tombstone")


class MediaCapture(Base):
    __tablename__ = "media_captures"
    __table_args__ = (
        Index("ix_media_captures_media_key", "media_key"),
        Index("ix_media_captures_account_pk", "account_pk", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The account whose capture fetched it (from the WARC's warcinfo): a poll loads only its
    # own account's media keys, not every media row of the catalog.
    account_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)
    url: Mapped[str] = mapped_column(String(2048))
    media_key: Mapped[str] = mapped_column(String(2048))
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(128), default="")
    size: Mapped[int] = mapped_column(BigInteger)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    observed_at: Mapped[datetime]
    warc_file: Mapped[str] = mapped_column(String(255))
    warc_offset: Mapped[int] = mapped_column(BigInteger)
    warc_length: Mapped[int] = mapped_column(BigInteger)
    warc_record_id: Mapped[str] = mapped_column(String(64))


class CaptureWarning(Base):
    """A payload we could not parse: quarantined with a stable code, bytes in the WARC."""

    __tablename__ = "capture_warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    item_id: Mapped[str] = mapped_column(String(255), default="")
    warc_file: Mapped[str] = mapped_column(String(255), default="")
    warc_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    warc_length: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]


class FixityCheck(Base):
    """One object's verdict in one `archiver verify` run: the fixity log (ISO 16363 4.4.1.2).

    Not derived from the WARCs, so `catalog rebuild --apply` keeps it; no foreign key, so the
    history outlives a WARC row removed at disposition.
    """

    __tablename__ = "fixity_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    warc_name: Mapped[str] = mapped_column(String(255), index=True)
    store_key: Mapped[str] = mapped_column(String(512))
    checked_at: Mapped[datetime]
    verdict: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    # "deep" (every record digest recomputed) or "routine" (see fixity_tables); NULL before 0015
    level: Mapped[str | None] = mapped_column(String(16), nullable=True)


class AuditEntry(Base):
    """One entry of the append-only audit log; each carries the hash of the one before it.

    Not derived from the WARCs (`catalog rebuild --apply` keeps it). `seq` is assigned by the
    writer as the previous seq + 1, so two writers racing for the same place collide on the
    primary key instead of forking the chain.
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(512), index=True, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class ReconcileWindow(Base):
    """Where an account's reconciliation pass over one age window stands (incremental capture).

    Capture state, not a record: `catalog rebuild` keeps it, and losing it only means the
    next cycle captures the account whole.
    """

    __tablename__ = "reconcile_windows"
    __table_args__ = (UniqueConstraint("account_pk", "window"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    window: Mapped[str] = mapped_column(String(16))
    position: Mapped[str] = mapped_column(String(320), default="")
    pass_started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_full_at: Mapped[datetime | None] = mapped_column(nullable=True)


class QuotaSpend(Base):
    """What every capture with one credential spent in one quota period (capture state)."""

    __tablename__ = "quota_spend"
    __table_args__ = (UniqueConstraint("platform", "credential", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    credential: Mapped[str] = mapped_column(String(512))  # the token reference, never the token
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    spent: Mapped[int] = mapped_column(Integer, default=0)


# Sibling modules add their models to Base.metadata when they are imported (they import Base
# from here). Each command imports the ones it queries, so a fresh `items list` declares and
# configures its own mappers only, not all 35 (issue 13: start-up). Whatever needs the whole
# schema (Alembic, a test's create_all or comparison) asks all_models().
MODEL_MODULES = ("console_tables", "daemon_tables", "fixity_tables", "request_tables",
                 "retention_tables", "search_tables")


def all_models() -> MetaData:
    """Base.metadata with every model module imported: the catalog's whole schema."""
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(f"archiver.catalog.{name}")
    index = next(i for i in Base.metadata.tables["items"].indexes if i.name == "ix_items_deleted_kind")
    options = index.dialect_options["postgresql"]  # (see Item) the dialect is loaded here only
    if options["where"] is None:
        options["where"] = text(DELETED_ONLY)
    return Base.metadata


class StoredPayload(Base):
    """The latest payload stored for one target URI of one account: what a later identical
    response refers to instead of being stored again (a WARC `revisit` record, issue 12).

    Written by the indexer from response records only (a revisit changes nothing here: it
    refers to this very record), so `catalog rebuild` recreates it from the WARCs. Keyed by
    the sha256 of the URI as written in WARC-Target-URI (credentials already redacted), which
    keeps the unique index small whatever the length of the URI.
    """

    __tablename__ = "stored_payloads"
    __table_args__ = (UniqueConstraint("account_pk", "uri_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    uri_sha256: Mapped[str] = mapped_column(String(64))
    target_uri: Mapped[str] = mapped_column(Text)
    payload_digest: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(64))
    warc_date: Mapped[datetime]
    warc_file: Mapped[str] = mapped_column(String(255), index=True)
    warc_offset: Mapped[int] = mapped_column(BigInteger)
    warc_length: Mapped[int] = mapped_column(BigInteger)
