"""Poll accounts: capture cycle -> sealed WARC -> object store -> catalog, in that order.

A WARC reaches the catalog only after it is sealed and stored, and the spool copy is removed
only after the catalog transaction commits. A crash at any point leaves the spool in a state
`recover()` finishes on the next start: nothing captured is lost, nothing half-written is
ever referenced.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from archiver.app import App
from archiver.capture.cycle import CaptureCycle, CycleResult, KnownItem
from archiver.capture.session import CaptureSession
from archiver.catalog import tables as t
from archiver.catalog.indexer import IndexStats, WarcFacts, WarcIndexer
from archiver.credentials import read_token
from archiver.errors import (
    AccountGone,
    ArchiverError,
    ConfigError,
    NeedsAttention,
    TryLater,
)
from archiver.models import AccountRef
from archiver.warc.fields import (
    INFO_ACCOUNT,
    INFO_ACCOUNT_NAME,
    INFO_API_BASE,
    INFO_DISTRICT,
    INFO_PLATFORM,
    INFO_REDACTION,
    INFO_ROLE,
    INFO_RUN,
    REDACTION_POLICY,
)
from archiver.warc.reader import iter_records
from archiver.warc.recover import salvage_open_file
from archiver.warc.rolling import RollingWarc
from archiver.warc.writer import OPEN_SUFFIX, SealedWarc

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    account: str
    run_id: str
    status: str
    message: str = ""
    exchanges: int = 0
    new: int = 0
    edited: int = 0
    unchanged: int = 0
    deleted: int = 0
    media: int = 0
    warnings: int = 0
    warcs: list[str] = field(default_factory=list)
    error: ArchiverError | None = None


@dataclass
class RecoveryReport:
    salvaged: list[str] = field(default_factory=list)
    indexed: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)


def warc_key(platform: str, account_id: str, name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in account_id)
    return f"warc/{platform}/{safe}/{name}"


class Poller:
    def __init__(self, app: App) -> None:
        self.app = app

    # --- selection -------------------------------------------------------------------------

    def accounts(self, selector: str | None = None) -> list[t.Account]:
        with self.app.catalog.session() as s:
            rows = list(s.scalars(select(t.Account).order_by(t.Account.id)))
        if selector is None:
            return rows
        chosen = [
            r for r in rows
            if selector in (str(r.id), r.account_id, r.label, r.name)
        ]
        if not chosen:
            raise ConfigError(
                f"No registered account matches '{selector}'; see 'archiver accounts list'"
            )
        return chosen

    def poll(self, selector: str | None = None) -> Iterator[RunReport]:
        self.recover()
        for account in self.accounts(selector):
            yield self.poll_account(account)

    # --- one account -----------------------------------------------------------------------

    def poll_account(self, account: t.Account) -> RunReport:
        app, clock = self.app, self.app.clock
        run_id = str(uuid.uuid4())
        report = RunReport(account.label, run_id, "running")
        ref = AccountRef(account.platform, account.account_id, account.name, account.api_base, account.role)
        try:
            connector = app.connector(account.platform)
            token = read_token(account.token_ref, label=account.label)
        except ArchiverError as exc:
            return self._finish_without_run(account, report, exc)
        known, media_seen = self._known(account.id)
        with app.catalog.session() as s:
            s.add(t.CaptureRun(id=run_id, account_pk=account.id, started_at=clock.now()))
        info = {
            INFO_PLATFORM: account.platform,
            INFO_ACCOUNT: account.account_id,
            INFO_ACCOUNT_NAME: account.name,
            INFO_ROLE: account.role,
            INFO_API_BASE: account.api_base,
            INFO_RUN: run_id,
            INFO_DISTRICT: app.settings.district,
            INFO_REDACTION: REDACTION_POLICY,
        }
        rolling = RollingWarc(
            app.settings.spool_dir,
            f"{account.platform}-{account.account_id}",
            info,
            max_bytes=app.settings.capture.warc_max_bytes,
            clock=clock,
        )
        session = CaptureSession(
            warc=rolling,
            clock=clock,
            settings=app.settings.capture,
            auth_style=connector.auth_style,
            token=token,
            platform=account.platform,
            account=account.account_id,
        )
        try:
            result = CaptureCycle(
                connector,
                ref,
                session,
                known=known,
                cursor=account.cursor,
                media_seen=media_seen,
                max_inline_wait=app.settings.capture.max_inline_wait,
            ).run()
            sealed = rolling.seal_all()
        except BaseException:
            rolling.abandon()  # the .open file stays for recover() to salvage
            raise
        finally:
            session.close()
        report.exchanges = session.exchanges
        for warc in sealed:
            self._store_and_index(warc, account.platform, account.account_id)
            report.warcs.append(warc.name)
        self._finish_run(account, run_id, result, report)
        return report

    def _known(self, account_pk: int) -> tuple[dict[str, KnownItem], set[str]]:
        with self.app.catalog.session() as s:
            latest = (
                select(t.ItemVersion.item_pk, func.max(t.ItemVersion.version_no).label("v"))
                .group_by(t.ItemVersion.item_pk)
                .subquery()
            )
            rows = s.execute(
                select(t.Item, t.ItemVersion)
                .join(latest, latest.c.item_pk == t.Item.id)
                .join(
                    t.ItemVersion,
                    (t.ItemVersion.item_pk == t.Item.id) & (t.ItemVersion.version_no == latest.c.v),
                )
                .where(t.Item.account_pk == account_pk, t.Item.deleted_at.is_(None))
            ).all()
            known = {
                item.item_id: KnownItem(
                    item.item_id, item.kind, item.parent_id, version.content_sha256, version.warc_record_id
                )
                for item, version in rows
            }
            media = set(s.scalars(select(t.MediaCapture.media_key).where(t.MediaCapture.status == 200)))
        return known, media

    def _store_and_index(self, warc: SealedWarc, platform: str, account_id: str) -> IndexStats:
        key = warc_key(platform, account_id, warc.name)
        stored = self.app.store.put_file(key, warc.path, sha256=warc.sha256)
        facts = WarcFacts(
            name=warc.name,
            size=warc.size,
            sha256=warc.sha256,
            store_key=key,
            stored_at=self.app.clock.now(),
            object_size=stored.size,
            object_sha256=stored.sha256,
        )
        stats = self.index_file(facts, warc.path)
        warc.path.unlink(missing_ok=True)
        return stats

    def index_file(self, facts: WarcFacts, path: Path) -> IndexStats:
        with self.app.catalog.session() as s, open(path, "rb") as fh:
            indexer = WarcIndexer(s, self.app.connector)
            return indexer.index(facts, iter_records(fh, facts.name))

    def _finish_run(self, account: t.Account, run_id: str, result: CycleResult, report: RunReport) -> None:
        now = self.app.clock.now()
        error = result.error
        status, message, next_after = _status_of(error, result)
        report.status = "complete" if result.complete else "partial"
        report.message = message
        report.error = error
        report.new, report.edited = len(result.new), len(result.edited)
        report.unchanged, report.deleted = len(result.unchanged), len(result.deleted)
        report.media, report.warnings = result.media, len(result.warnings)
        with self.app.catalog.session() as s:
            run = s.get(t.CaptureRun, run_id)
            if run is not None:
                run.finished_at = now
                run.status = report.status
                run.message = message
                run.exchanges = report.exchanges
                run.new_items, run.edited_items = report.new, report.edited
                run.unchanged_items, run.deleted_items = report.unchanged, report.deleted
            row = s.get(t.Account, account.id)
            if row is not None:
                row.status, row.status_message = status, message
                row.last_polled_at = now
                row.next_poll_after = next_after
                if result.complete and result.cursor is not None:
                    row.cursor = result.cursor

    def _finish_without_run(self, account: t.Account, report: RunReport, exc: ArchiverError) -> RunReport:
        status, message, next_after = _status_of(exc, None)
        with self.app.catalog.session() as s:
            row = s.get(t.Account, account.id)
            if row is not None:
                row.status, row.status_message, row.next_poll_after = status, message, next_after
        report.status, report.message, report.error = "not-run", message, exc
        return report

    # --- crash recovery --------------------------------------------------------------------

    def recover(self) -> RecoveryReport:
        """Finish whatever an interrupted process left in the spool. Idempotent."""
        spool = self.app.settings.spool_dir
        report = RecoveryReport()
        if not spool.exists():
            return report
        for open_file in sorted(spool.glob(f"*{OPEN_SUFFIX}")):
            sealed = salvage_open_file(open_file)
            if sealed is None:
                report.discarded.append(open_file.name)
            else:
                report.salvaged.append(sealed.name)
        for path in sorted(spool.glob("*.warc.gz")):
            with self.app.catalog.session() as s:
                done = s.scalar(select(t.WarcFile.id).where(t.WarcFile.name == path.name))
            if done is not None:
                path.unlink(missing_ok=True)
                report.cleaned.append(path.name)
                continue
            sealed = salvage_open_file(path, already_sealed=True)
            if sealed is None:
                continue
            platform, account_id = _owner_of(path)
            self._store_and_index(sealed, platform, account_id)
            report.indexed.append(path.name)
        with self.app.catalog.session() as s:
            for run in s.scalars(select(t.CaptureRun).where(t.CaptureRun.status == "running")):
                run.status = "interrupted"
                run.finished_at = run.finished_at or self.app.clock.now()
        return report


def _owner_of(path: Path) -> tuple[str, str]:
    with open(path, "rb") as fh:
        for record in iter_records(fh, path.name):
            info = record.warc_fields()
            return info.get(INFO_PLATFORM, "unknown"), info.get(INFO_ACCOUNT, "unknown")
    return "unknown", "unknown"


def _status_of(error: ArchiverError | None, result: CycleResult | None) -> tuple[str, str, datetime | None]:
    if error is None:
        assert result is not None
        return "ok", "", None
    if isinstance(error, TryLater):
        return "throttled", error.message, error.retry_at
    if isinstance(error, NeedsAttention):
        return "needs-attention", error.message, None
    if isinstance(error, AccountGone):
        return "gone", error.message, None
    if isinstance(error, ConfigError):
        return "config-error", error.message, None
    return "error", error.message, None
