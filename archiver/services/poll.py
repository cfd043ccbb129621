"""Poll accounts: capture cycle -> sealed WARC -> object store -> catalog, in that order.

A WARC reaches the catalog only after it is sealed and stored, and the spool copy is removed
only after the catalog transaction commits. A crash at any point leaves the spool in a state
`recover()` finishes on the next start: nothing captured is lost, nothing half-written is
ever referenced.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from archiver.app import App
from archiver.capture.cycle import CaptureCycle, CycleResult, KnownItem
from archiver.capture.session import CaptureSession
from archiver.catalog import tables as t
from archiver.catalog.queries import latest_versions
from archiver.core.credentials import read_token
from archiver.core.errors import (
    AccountGone,
    ArchiverError,
    ConfigError,
    NeedsAttention,
    TryLater,
)
from archiver.core.models import AccountRef
from archiver.preservation.outbox import Outbox, SweepReport
from archiver.services.holds import protect_new_objects
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
from archiver.warc.rolling import RollingWarc

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
    # Wall-clock seconds per phase: harvest (HTTP + WARC writing + diff), store (encrypt,
    # upload, verify) and index (catalog transaction), for the benchmarks and the logs.
    timings: dict[str, float] = field(default_factory=dict)
    error: ArchiverError | None = None


class Poller:
    def __init__(self, app: App) -> None:
        self.app = app
        self.outbox = Outbox(app)

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
        with self.outbox.exclusive():
            self.recover()
            for account in self.accounts(selector):
                yield self.poll_account(account)

    # --- one account -----------------------------------------------------------------------

    def poll_account(self, account: t.Account) -> RunReport:
        """One account; whatever goes wrong here never stops the capture of the others."""
        try:
            return self._poll_account(account)
        except ArchiverError as exc:
            log.error("capture of %s failed: %s", account.label, exc.message)
            return self._finish_without_run(account, RunReport(account.label, "", "failed"), exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one connector must not stop the rest
            log.exception("unexpected failure while capturing %s", account.label)
            error = ArchiverError(
                f"Unexpected failure while capturing {account.label} ({type(exc).__name__}); "
                "what was captured stays in the spool and is stored on the next run; "
                "please report this with the log"
            )
            return self._finish_without_run(account, RunReport(account.label, "", "failed"), error)

    def _poll_account(self, account: t.Account) -> RunReport:
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
            rate_limit_hook=getattr(connector, "raise_for_429", None),
            min_retry_seconds=app.settings.connector(account.platform).min_retry_seconds,
        )
        started = time.perf_counter()
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
        report.timings["harvest"] = time.perf_counter() - started
        for warc in sealed:
            self.outbox.store_sealed(warc.path, account.platform, account.account_id, report.timings)
            report.warcs.append(warc.name)
        protect_new_objects(self.app, report.warcs)  # retention: Object Lock date and legal holds
        self._finish_run(account, run_id, result, report)
        return report

    def _known(self, account_pk: int) -> tuple[dict[str, KnownItem], set[str]]:
        with self.app.catalog.session() as s:
            rows = [
                (item, version)
                for item, version in latest_versions(s, account_pk)
                if item.deleted_at is None
            ]
            known = {
                item.item_id: KnownItem(
                    item.item_id, item.kind, item.parent_id, version.content_sha256,
                    version.warc_record_id, item.created_at,
                )
                for item, version in rows
            }
            media = set(s.scalars(select(t.MediaCapture.media_key).where(t.MediaCapture.status == 200)))
        return known, media

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

    def recover(self) -> SweepReport:
        """Finish whatever an interrupted process left in the spool. Idempotent."""
        report = self.outbox.sweep()
        with self.app.catalog.session() as s:
            for run in s.scalars(select(t.CaptureRun).where(t.CaptureRun.status == "running")):
                run.status = "interrupted"
                run.finished_at = run.finished_at or self.app.clock.now()
        return report


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
