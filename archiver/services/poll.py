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
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.capture.cycle import CaptureCycle, CycleResult, KnownItem
from archiver.capture.session import CaptureSession
from archiver.capture.sweep import WindowState, all_reconciled, plan_sweep, top_level
from archiver.catalog import tables as t
from archiver.catalog.payloads import stored_payloads
from archiver.catalog.queries import account_media_keys, known_items
from archiver.core.credentials import read_token
from archiver.core.errors import (
    AccountGone,
    ArchiverError,
    ConfigError,
    NeedsAttention,
    TryLater,
)
from archiver.core.plan import HarvestPlan
from archiver.core.settings import require_capture_settings
from archiver.preservation.outbox import Outbox, SweepReport
from archiver.services.accounts import DISABLED, AccountInfo, select_accounts
from archiver.services.budgets import last_cost, load_budget, record_spend
from archiver.services.holds import finish_protection, protect_in_transaction
from archiver.services.protect import Followup
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
from connectors.base import ParseMemo, remembering_parses

log = logging.getLogger(__name__)


@dataclass(frozen=True)
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
    warcs: tuple[str, ...] = ()
    plan: str = ""  # "full (first capture)", "incremental, 12 swept", ...
    quota_spent: int = 0  # in the platform's quota unit (requests where it has none)
    # Answers identical to a stored one, written as WARC revisit records (issue 12): of
    # `exchanges`, how many stored no payload.
    revisits: int = 0
    # Wall-clock seconds per phase: harvest (HTTP + WARC writing + diff), store (encrypt,
    # upload, verify) and index (catalog transaction), for the benchmarks and the logs.
    timings: dict[str, float] = field(default_factory=dict)
    error: ArchiverError | None = None

    def as_dict(self) -> dict[str, Any]:
        """For JSON output: everything but the exception object."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "error"}


class Poller:
    def __init__(self, app: App) -> None:
        self.app = app
        self.outbox = Outbox(app)

    # --- selection -------------------------------------------------------------------------

    def accounts(self, selector: str | None = None) -> list[AccountInfo]:
        return select_accounts(self.app, selector)

    def poll(
        self,
        selector: str | None = None,
        *,
        on_start: Callable[[AccountInfo], None] | None = None,
        on_account: Callable[[RunReport], None] | None = None,
        reconcile: bool = False,
    ) -> list[RunReport]:
        """One capture cycle over the selected accounts, after finishing any interrupted one.

        `on_start` hears of each account before its capture and `on_account` gets each report
        as it is made (progress bars; a caller interrupted midway knows what was kept).
        `reconcile` reads every listing whole now instead of the incremental plan (an officer
        told a post was deleted confirms it at once)."""
        # The longest-waiting first: an account deferred for want of budget goes first when
        # the budget resets, so none is starved by the ones listed before it.
        selected = self.accounts(selector)
        chosen = sorted((a for a in selected if a.status != DISABLED),
                        key=lambda a: (a.last_polled_at is not None, a.last_polled_at or datetime.min, a.id))
        if selector is not None and selected and not chosen:  # asked for it by name: say why not
            raise ConfigError(f"{selected[0].label} is disabled; 'archiver accounts enable "
                              f"{selected[0].label}' resumes it")
        reports = []
        with self.outbox.exclusive():
            self.recover()
            for account in chosen:
                if on_start:
                    on_start(account)
                report = self.poll_account(account, reconcile=reconcile)
                reports.append(report)
                if on_account:
                    on_account(report)
        return reports

    # --- one account -----------------------------------------------------------------------

    def poll_account(
        self, account: AccountInfo | t.Account, *, reconcile: bool = False, client: httpx.Client | None = None,
    ) -> RunReport:
        """One account; whatever goes wrong here never stops the capture of the others.

        `client`: an HTTP client shared by the daemon's captures of one platform (its
        connection pool and TLS context reused; it keeps no cookies); None: one of its own."""
        if isinstance(account, t.Account):
            account = AccountInfo.of(account)
        run_id = str(uuid.uuid4())
        try:
            return self._poll_account(account, run_id, reconcile, client)
        except ArchiverError as exc:
            log.error("capture of %s failed: %s", account.label, exc.message)
            return self._finish_failed(account, run_id, exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one connector must not stop the rest
            log.exception("unexpected failure while capturing %s", account.label)
            error = ArchiverError(
                f"Unexpected failure while capturing {account.label} ({type(exc).__name__}); "
                "what was captured stays in the spool and is stored on the next run; "
                "please report this with the log"
            )
            return self._finish_failed(account, run_id, error)

    def _poll_account(self, account: AccountInfo, run_id: str, reconcile: bool = False,
                      client: httpx.Client | None = None) -> RunReport:
        app, clock = self.app, self.app.clock
        try:
            require_capture_settings(app.settings)
            connector = app.connector(account.platform)
            token = read_token(account.token_ref, label=account.label)
        except ArchiverError as exc:
            return self._finish_without_run(account, exc)
        budget = load_budget(app, account.platform, account.token_ref)
        # What the catalog knows of the account and the run's row: one transaction (issue 14).
        with app.catalog.session() as s:
            if budget is not None:
                estimate = last_cost(s, account.id)
                if not budget.fits(estimate):  # defer now rather than be stopped halfway
                    deferral = budget.deferral(account.label, estimate)
                    s.rollback()
                    return self._finish_without_run(account, deferral)
            known, media_seen = self._known(s, account.id)
            plan, windows, window_rows = self._plan(s, account, connector, known, reconcile)
            stored = stored_payloads(s, account.id)
            s.add(t.CaptureRun(id=run_id, account_pk=account.id, started_at=clock.now()))
        info = {
            INFO_PLATFORM: account.platform,
            INFO_ACCOUNT: account.account_id,
            INFO_ACCOUNT_NAME: account.name,
            INFO_ROLE: account.role,
            INFO_API_BASE: account.api_base,
            INFO_RUN: run_id,
            INFO_DISTRICT: app.settings.district or "",  # checked set by require_capture_settings
            INFO_REDACTION: REDACTION_POLICY,
        }
        rolling = RollingWarc(
            app.settings.spool_dir,
            f"{account.platform}-{account.account_id}",
            info,
            max_bytes=app.settings.capture.warc_max_bytes,
            clock=clock,
            journal=True,  # indexed from what was written, not read back (issue 13)
        )
        session = CaptureSession(
            warc=rolling,
            clock=clock,
            settings=app.settings.capture,
            auth=connector.auth(token),
            platform=account.platform,
            account=account.account_id,
            rate_limit_hook=connector.raise_for_429,
            min_retry_seconds=app.settings.connector(account.platform).min_retry_seconds,
            budget=budget,
            stored_payloads=stored,
            client=client,
        )
        started = time.perf_counter()
        parsed: ParseMemo = {}  # what the harvest parsed, so the indexer does not parse it again
        try:
            with remembering_parses(parsed):
                result = CaptureCycle(
                    connector,
                    account.ref,
                    session,
                    known=known,
                    cursor=account.cursor,
                    media_seen=media_seen,
                    max_inline_wait=app.settings.capture.max_inline_wait,
                    plan=plan,
                ).run()
            sealed = rolling.seal_all()
        except BaseException:
            rolling.abandon()  # the .open file stays for recover() to salvage
            raise
        finally:
            session.close()
            if budget is not None:
                record_spend(app, budget)
        timings = {"harvest": time.perf_counter() - started}
        report = RunReport(
            account.label, run_id, "complete" if result.complete else "partial",
            message=_status_of(result.error, result)[1], exchanges=session.exchanges,
            new=len(result.new), edited=len(result.edited), unchanged=len(result.unchanged),
            deleted=len(result.deleted), media=result.media, warnings=len(result.warnings),
            plan=_describe(plan), timings=timings, error=result.error,
            quota_spent=budget.total if budget is not None else session.exchanges,
            revisits=session.payloads.revisits,
        )
        # Each object's retention controls (Object Lock date, legal holds) and, with the last
        # one, the run's close go into the object's index transaction: an idle poll commits
        # twice (the run's row, the index), not four times (issue 14).
        followups: list[Followup] = []
        last = sealed[-1].name if sealed else None

        def within(s: Session, name: str) -> None:
            followups.append(protect_in_transaction(self.app, s, [name]))
            if name == last:
                self._close_run(s, account, result, report, windows, window_rows)

        warcs = []
        for warc in sealed:
            journal = rolling.journals.pop(warc.name, None)
            if journal is not None:
                journal.parsed = parsed
                journal.new_run = warc is sealed[0]
                journal.account = (account.id, account.name, account.role)
            self.outbox.store_sealed(warc.path, account.platform, account.account_id, timings,
                                     journal=journal, within=within)
            warcs.append(warc.name)
        finish_protection(self.app, followups)  # after the commits: failures logged, rare cases
        if last is None:
            self._finish_run(account, result, report, windows, window_rows)
        return replace(report, warcs=tuple(warcs))

    def _plan(
        self, s: Any, account: AccountInfo, connector: object, known: dict[str, KnownItem], reconcile: bool
    ) -> tuple[HarvestPlan, dict[str, WindowState], dict[str, WindowState] | None]:
        """Full on a first capture, when asked, or for a connector without incremental
        harvest; otherwise new items, moved signals and this cycle's sweep slice. The third
        value is the account's window rows as read (None: not read), so that the run's end
        writes only what moved."""
        now = self.app.clock.now()
        if not getattr(connector, "incremental", False):
            return HarvestPlan(full=True, reason="full listing each cycle", known=known), all_reconciled(now), None
        rows = s.execute(select(t.ReconcileWindow.window, t.ReconcileWindow.position,
                                t.ReconcileWindow.pass_started_at, t.ReconcileWindow.last_full_at)
                         .where(t.ReconcileWindow.account_pk == account.id)).all()
        states = {r[0]: WindowState(r[0], r[1], r[2], r[3]) for r in rows}
        if reconcile:
            return HarvestPlan(full=True, reason="reconcile requested", known=known), all_reconciled(now), states
        if not states:
            return HarvestPlan(full=True, reason="first capture", known=known), all_reconciled(now), states
        settings = self.app.settings.connector(account.platform)
        interval = timedelta(minutes=self.app.settings.daemon.poll_interval_minutes)
        sweep = plan_sweep(top_level(known), states, settings, now=now, interval=interval)
        every_cycle = settings.recent_every_hours == 0
        plan = HarvestPlan(
            full=False,
            reason="incremental",
            known=known,
            recent_since=now - timedelta(days=settings.recent_days) if every_cycle else None,
            sweep=sweep.item_ids,
        )
        return plan, sweep.states, states

    def _known(self, s: Any, account_pk: int) -> tuple[dict[str, KnownItem], set[str]]:
        """Only this account's rows, through its indexes: a poll costs the same in a catalog
        of ten thousand items as in one of a million (issue 13)."""
        known = {
            row.item_id: KnownItem(
                row.item_id, row.kind, row.parent_id, row.content_sha256,
                row.last_record_id, row.created_at, row.signal,
            )
            for row in known_items(s, account_pk)
        }
        return known, account_media_keys(s, account_pk)

    def _finish_run(
        self, account: AccountInfo, result: CycleResult, report: RunReport,
        windows: dict[str, WindowState] | None = None, window_rows: dict[str, WindowState] | None = None,
    ) -> None:
        """`_close_run` in a transaction of its own (a run that stored no object)."""
        with self.app.catalog.session() as s:
            self._close_run(s, account, result, report, windows, window_rows)

    def _close_run(
        self, s: Session, account: AccountInfo, result: CycleResult, report: RunReport,
        windows: dict[str, WindowState] | None = None, window_rows: dict[str, WindowState] | None = None,
    ) -> None:
        """The run's outcome and the account's status in the caller's transaction, as plain
        UPDATEs (no ORM loads, and no ORM session sync: the sync's evaluation cost about
        0.5 ms a statement; this is paid by every account every cycle, issue 14)."""
        now = self.app.clock.now()
        status, message, next_after = _status_of(result.error, result)
        if result.stale_signals:  # children not read whole: read them again next cycle
            s.execute(
                update(t.Item)
                .where(t.Item.account_pk == account.id, t.Item.item_id.in_(result.stale_signals))
                .values(signal=None).execution_options(synchronize_session=False)
            )
        if result.complete and windows:
            _save_windows(s, account.id, windows, window_rows)
        s.execute(update(t.CaptureRun).where(t.CaptureRun.id == report.run_id).values(
            finished_at=now, status=report.status, message=message, exchanges=report.exchanges,
            new_items=report.new, edited_items=report.edited, unchanged_items=report.unchanged,
            deleted_items=report.deleted, quota_spent=report.quota_spent,
        ).execution_options(synchronize_session=False))
        values: dict[str, Any] = dict(status=status, status_message=message, last_polled_at=now,
                                      next_poll_after=next_after)
        if result.complete:
            values["last_success_at"] = now
        if result.complete and result.cursor is not None:
            values["cursor"] = result.cursor
        s.execute(update(t.Account).where(t.Account.id == account.id).values(**values)
                  .execution_options(synchronize_session=False))

    def _finish_failed(self, account: AccountInfo, run_id: str, exc: ArchiverError) -> RunReport:
        """A capture that raised: if its run row was opened, that run is closed as failed
        (not left 'running' and reported as never run) in the same transaction as the
        account's status; otherwise nothing ran."""
        status, message, next_after = _status_of(exc, None)
        with self.app.catalog.session() as s:
            run = s.get(t.CaptureRun, run_id)
            if run is None:
                s.rollback()
                return self._finish_without_run(account, exc)
            run.status, run.message, run.finished_at = "failed", exc.message, self.app.clock.now()
            row = s.get(t.Account, account.id)
            if row is not None:
                row.status, row.status_message, row.next_poll_after = status, message, next_after
                row.last_polled_at = self.app.clock.now()
        return RunReport(account.label, run_id, "failed", message, error=exc)

    def _finish_without_run(self, account: AccountInfo, exc: ArchiverError) -> RunReport:
        status, message, next_after = _status_of(exc, None)
        with self.app.catalog.session() as s:
            row = s.get(t.Account, account.id)
            if row is not None:
                row.status, row.status_message, row.next_poll_after = status, message, next_after
        return RunReport(account.label, "", "not-run", message, error=exc)

    # --- crash recovery --------------------------------------------------------------------

    def preflight(self) -> None:
        """Refuse to capture anything without the district and state written explicitly, or
        without the key that will encrypt it (a lost key file is never silently replaced)."""
        require_capture_settings(self.app.settings)
        self.app.check_keys_present()

    def recover(self, *, interrupt_runs: bool = True) -> SweepReport:
        """Check the capture can run (`preflight`), then finish whatever an interrupted
        process left in the spool. Idempotent.

        Runs left 'running' are marked interrupted, except those whose account a daemon
        worker holds under an unexpired lease (it is capturing them now). A daemon passes
        `interrupt_runs=False` and judges its fleet's runs itself (daemon/leases.py)."""
        self.preflight()
        report = self.outbox.sweep()
        if interrupt_runs:
            now = self.app.clock.now()
            # Correlated, so each running run looks its account up by primary key (a NOT IN
            # over leased accounts scanned the accounts table).
            leased = select(t.Account.id).where(t.Account.id == t.CaptureRun.account_pk,
                                                t.Account.lease_until >= now).exists()
            with self.app.catalog.session() as s:
                for run in s.scalars(select(t.CaptureRun).where(t.CaptureRun.status == "running", ~leased)):
                    run.status = "interrupted"
                    run.finished_at = run.finished_at or now
        return report


def _save_windows(s: Any, account_pk: int, windows: dict[str, WindowState],
                  as_read: dict[str, WindowState] | None = None) -> None:
    """`as_read`: the rows as the plan read them at the start of the run; windows that have
    not moved since are not written (an idle account's usual case)."""
    if as_read is not None:
        windows = {name: state for name, state in windows.items() if as_read.get(name) != state}
        if not windows:
            return
    rows = {
        r.window: r
        for r in s.scalars(select(t.ReconcileWindow).where(t.ReconcileWindow.account_pk == account_pk))
    }
    for name, state in windows.items():
        row = rows.get(name)
        if row is None:
            row = t.ReconcileWindow(account_pk=account_pk, window=name)
            s.add(row)
        row.position, row.pass_started_at, row.last_full_at = (
            state.position, state.pass_started_at, state.last_full_at,
        )


def _describe(plan: HarvestPlan) -> str:
    if plan.full:
        return f"full ({plan.reason})"
    return f"incremental, {len(plan.sweep)} swept"


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
