"""Alerts: conditions an operator must hear about, raised once when they start and once when
they clear, never every cycle.

Each *source* says which conditions of its kind hold now ({subject: message}); `reconcile`
opens an alert for each new one and clears the open alerts whose condition is gone. The
catalog holds the alerts, so several workers evaluating the same conditions raise one alert
between them (a unique `open_key` while open). Delivery (log, e-mail, webhook) is claimed per
transition in the catalog, so each start and each clear is sent once by one worker, and
retried at the next evaluation if the mail server or the webhook was down.

Sources here: credentials (expired, revoked, missing permission), accounts gone, capture gaps
(no complete capture for more than two intervals), fixity failures, workers that stopped
heartbeating, quota budgets about to run out. Others register with `register_source`.
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.catalog import daemon_tables as dt
from archiver.catalog import tables as t
from archiver.core.log import redact_text

log = logging.getLogger(__name__)

# kind -> function(session, now, app) -> {subject: message} of the conditions that hold now
Source = Callable[[Session, datetime, App], dict[str, str]]
_SOURCES: dict[str, Source] = {}


def register_source(kind: str, source: Source) -> None:
    """A new kind of alert (budgets about to run out: the incremental-capture issue)."""
    _SOURCES[kind] = source


@dataclass(frozen=True)
class AlertView:
    id: int
    kind: str
    subject: str
    message: str
    raised_at: datetime
    cleared_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "subject": self.subject, "message": self.message,
                "raised_at": self.raised_at.isoformat(),
                "cleared_at": self.cleared_at.isoformat() if self.cleared_at else None}


def _view(row: dt.Alert) -> AlertView:
    return AlertView(row.id, row.kind, row.subject, row.message, row.raised_at, row.cleared_at)


# --- sources -------------------------------------------------------------------------------


def _interval(app: App) -> timedelta:
    return timedelta(minutes=app.settings.daemon.poll_interval_minutes)


def credential_source(s: Session, now: datetime, app: App) -> dict[str, str]:
    rows = s.execute(select(t.Account.platform, t.Account.account_id, t.Account.status_message)
                     .where(t.Account.status == "needs-attention"))
    return {f"{p}:{a}": m for p, a, m in rows}


def gone_source(s: Session, now: datetime, app: App) -> dict[str, str]:
    rows = s.execute(select(t.Account.platform, t.Account.account_id, t.Account.status_message)
                     .where(t.Account.status == "gone"))
    return {f"{p}:{a}": m for p, a, m in rows}


def gap_source(s: Session, now: datetime, app: App) -> dict[str, str]:
    """No complete capture for more than two intervals (an account with a credential or gone
    alert is not counted twice: that alert already says why)."""
    cutoff = now - 2 * _interval(app)
    rows = s.execute(
        select(t.Account.platform, t.Account.account_id, t.Account.last_success_at)
        .where(t.Account.status.not_in(["needs-attention", "gone", "disabled"]))
        .where(or_(t.Account.last_success_at < cutoff,
                   and_(t.Account.last_success_at.is_(None), t.Account.created_at < cutoff)))
    )
    out = {}
    for platform, account, last in rows:
        since = f"since {last:%Y-%m-%d %H:%M} UTC" if last else "ever since it was registered"
        out[f"{platform}:{account}"] = (f"No complete capture {since}; run 'archiver status' for "
                                        "its last error")
    return out


def fixity_source(s: Session, now: datetime, app: App) -> dict[str, str]:
    """Objects whose most recent fixity check failed (cleared by a later passing check)."""
    latest = (select(t.FixityCheck.warc_name, func.max(t.FixityCheck.id).label("last"))
              .group_by(t.FixityCheck.warc_name).subquery())
    rows = s.execute(select(t.FixityCheck.warc_name, t.FixityCheck.verdict, t.FixityCheck.detail)
                     .join(latest, t.FixityCheck.id == latest.c.last)
                     .where(t.FixityCheck.verdict.not_in(["ok", "unreadable"])))
    return {name: f"fixity check failed ({verdict}): {detail}"[:500] for name, verdict, detail in rows}


def worker_source(s: Session, now: datetime, app: App) -> dict[str, str]:
    """Workers that neither heartbeat nor said they stopped. Cleared when one heartbeats
    again or its row is removed (`archiver status --forget-worker`)."""
    stale = now - timedelta(seconds=4 * app.settings.daemon.heartbeat_seconds)
    rows = s.execute(select(dt.Worker.id, dt.Worker.heartbeat_at)
                     .where(dt.Worker.stopped_at.is_(None), dt.Worker.heartbeat_at < stale))
    return {wid: (f"Worker {wid} has not reported since {beat:%Y-%m-%d %H:%M:%S} UTC; its accounts "
                  "move to the other workers when its leases expire") for wid, beat in rows}


def budget_source(s: Session, now: datetime, app: App) -> dict[str, str]:
    """Credentials with less than `alerts.budget_alert_pct` of their usable quota left this
    period; cleared when the period resets (or the budget is raised)."""
    from archiver.services.budgets import budget_report

    share = app.settings.alerts.budget_alert_pct / 100
    if share <= 0:
        return {}
    out = {}
    for line in budget_report(app, fit=False):  # spent and left only: cheap every heartbeat
        if line.usable is None or line.remaining is None or line.usable <= 0:
            continue
        if line.remaining < line.usable * share:
            out[f"{line.platform}:{line.credential}"] = (
                f"{line.platform} quota of {line.credential} nearly spent: {line.spent:,} of {line.usable:,} "
                f"usable {line.unit} this {line.period}, {line.remaining:,} left; its {line.accounts} account(s) "
                f"wait for the reset at {line.resets_at:%Y-%m-%d %H:%M} UTC. Lengthen the poll interval, "
                "raise the budget or add a credential if this recurs")
    return out


for _kind, _source in (("credential", credential_source), ("gone", gone_source), ("gap", gap_source),
                       ("fixity", fixity_source), ("worker", worker_source), ("budget", budget_source)):
    register_source(_kind, _source)


# --- reconcile -----------------------------------------------------------------------------


def reconcile(app: App, now: datetime | None = None, kinds: Iterable[str] | None = None) -> tuple[int, int]:
    """Open the alerts whose condition started, clear those whose condition ended; returns
    (raised, cleared). Safe to run from every worker at once."""
    now = now or app.clock.now()
    raised = cleared = 0
    for kind in list(kinds or _SOURCES):
        source = _SOURCES[kind]
        with app.catalog.session() as s:
            active = source(s, now, app)
            open_rows = {r.subject: r for r in s.scalars(
                select(dt.Alert).where(dt.Alert.kind == kind, dt.Alert.cleared_at.is_(None)))}
            for subject, row in open_rows.items():
                if subject not in active:
                    row.cleared_at, row.open_key = now, None
                    cleared += 1
                    log.warning("alert cleared: %s %s", kind, subject)
        with app.catalog.session() as s:
            open_now = set(s.scalars(select(dt.Alert.subject).where(dt.Alert.kind == kind,
                                                                    dt.Alert.cleared_at.is_(None))))
        for subject, message in active.items():
            if subject in open_now:
                continue
            if _raise(app, kind, subject, message, now):
                raised += 1
    return raised, cleared


def _raise(app: App, kind: str, subject: str, message: str, now: datetime) -> bool:
    message = redact_text(message)
    try:
        with app.catalog.session() as s:
            s.add(dt.Alert(kind=kind, subject=subject[:255], message=message, raised_at=now,
                           open_key=f"{kind}:{subject}"[:300]))
    except Exception as exc:  # noqa: BLE001 - another worker raised it first (unique open_key)
        if isinstance(exc.__cause__, IntegrityError) or isinstance(exc, IntegrityError):
            return False
        raise
    log.warning("alert raised: %s %s: %s", kind, subject, message)
    return True


def open_alerts(app: App) -> list[AlertView]:
    with app.catalog.session() as s:
        return [_view(r) for r in s.scalars(select(dt.Alert).where(dt.Alert.cleared_at.is_(None))
                                            .order_by(dt.Alert.raised_at, dt.Alert.id))]


def recent_alerts(app: App, since: datetime) -> list[AlertView]:
    with app.catalog.session() as s:
        return [_view(r) for r in s.scalars(
            select(dt.Alert).where(or_(dt.Alert.raised_at >= since, dt.Alert.cleared_at >= since))
            .order_by(dt.Alert.id))]


# --- delivery ------------------------------------------------------------------------------


def deliver(app: App, now: datetime | None = None) -> int:
    """Send every start and clear not yet sent; each claimed in the catalog first, so two
    workers never send the same one. A failed delivery is un-claimed and retried later."""
    now = now or app.clock.now()
    sent = 0
    with app.catalog.session() as s:
        pending = [(r.id, "raised") for r in s.scalars(select(dt.Alert).where(dt.Alert.raise_sent_at.is_(None)))]
        pending += [(r.id, "cleared") for r in s.scalars(
            select(dt.Alert).where(dt.Alert.cleared_at.is_not(None), dt.Alert.clear_sent_at.is_(None)))]
    for alert_id, event in pending:
        column = dt.Alert.raise_sent_at if event == "raised" else dt.Alert.clear_sent_at
        with app.catalog.session() as s:
            won = s.execute(update(dt.Alert).where(dt.Alert.id == alert_id, column.is_(None))
                            .values({column: now})).rowcount  # type: ignore[attr-defined]
            row = s.get(dt.Alert, alert_id)
            view = _view(row) if row is not None else None
        if not won or view is None:
            continue
        try:
            send(app, view, event)
            sent += 1
        except Exception as exc:  # noqa: BLE001 - delivery must never stop the daemon
            log.error("could not deliver the alert %s %s (%s: %s); will retry", view.kind, view.subject,
                      type(exc).__name__, redact_text(str(exc))[:200])
            with app.catalog.session() as s:
                s.execute(update(dt.Alert).where(dt.Alert.id == alert_id).values({column: None}))
    return sent


def payload(view: AlertView, event: str, district: str | None) -> dict[str, Any]:
    return {"event": event, "district": district or "", **view.as_dict()}


def send(app: App, view: AlertView, event: str) -> None:
    """To e-mail and the webhook, as configured (the log already has it)."""
    cfg = app.settings.alerts
    body = payload(view, event, app.settings.district)
    if cfg.smtp_host and cfg.mail_to:
        msg = EmailMessage()
        state = "RESOLVED" if event == "cleared" else "ALERT"
        msg["Subject"] = f"[archiver {state}] {view.kind}: {view.subject}"
        msg["From"] = cfg.mail_from
        msg["To"] = ", ".join(cfg.mail_to)
        msg.set_content(f"{state}: {view.kind} {view.subject}\n\n{view.message}\n\n"
                        f"raised {view.raised_at:%Y-%m-%d %H:%M:%S} UTC"
                        + (f", cleared {view.cleared_at:%Y-%m-%d %H:%M:%S} UTC" if view.cleared_at else "")
                        + f"\ndistrict: {app.settings.district or ''}\n")
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls()
            if cfg.smtp_user and cfg.smtp_password:
                smtp.login(cfg.smtp_user, cfg.smtp_password.get_secret_value())
            smtp.send_message(msg)
    if cfg.webhook_url:
        response = httpx.post(cfg.webhook_url, content=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"}, timeout=cfg.timeout)
        response.raise_for_status()
