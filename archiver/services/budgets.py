"""Quota budgets per credential: load, record, and tell whether the configured accounts fit.

A budget belongs to a credential (the account's token reference; accounts without a token
share one per platform, as an IP-wide limit does), so every account using it spends from the
same ledger row for the period.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.capture.budget import Budget, period_bounds
from archiver.catalog import tables as t
from connectors.quotas import MODELS, QuotaModel, model_for

_SECONDS = {"minute": 60, "5min": 300, "15min": 900, "hour": 3600, "day": 86400, "month": 30 * 86400}


def quota_model(app: App, platform: str) -> QuotaModel | None:
    """The platform's model with the district's `[connectors.<platform>.budget]` applied."""
    return model_for(platform, app.settings.connector(platform).budget)


def credential_of(token_ref: str | None) -> str:
    return token_ref or "(no credential)"


def credential_label(credential: str) -> str:
    """How a credential is named on screen: its kind and a short digest, never the reference
    (a variable or file name says where a secret lives)."""
    import hashlib

    if credential == "(no credential)":
        return "no credential"
    kind = credential.split(":", 1)[0]
    return f"{kind} #{hashlib.sha256(credential.encode()).hexdigest()[:6]}"


def load_budget(app: App, platform: str, token_ref: str | None) -> Budget | None:
    """The credential's budget for the current period, or None when nothing limits it."""
    model = quota_model(app, platform)
    if model is None or model.limit is None:
        return None
    start, end = period_bounds(model, app.clock.now())
    credential = credential_of(token_ref)
    with app.catalog.session() as s:
        spent = s.scalar(
            select(t.QuotaSpend.spent).where(
                t.QuotaSpend.platform == platform, t.QuotaSpend.credential == credential,
                t.QuotaSpend.period_start == start,
            )
        )
    return Budget(model, credential, start, end, spent_before=spent or 0)


def record_spend(app: App, budget: Budget) -> None:
    """Add this capture's spending to the credential's rows, one per window it spent in
    (atomic add, so concurrent captures with one credential all count)."""
    windows = [*budget.closed, (budget.period_start, budget.period_end, budget.spent)]
    for start, end, spent in windows:
        if spent:
            _add(app, budget.model.platform, budget.credential, start, end, spent)


def _add(app: App, platform: str, credential: str, start: datetime, end: datetime, spent: int) -> None:
    key = (t.QuotaSpend.platform == platform, t.QuotaSpend.credential == credential,
           t.QuotaSpend.period_start == start)
    for _attempt in range(3):
        try:
            with app.catalog.session() as s:
                changed = s.execute(update(t.QuotaSpend).where(*key).values(spent=t.QuotaSpend.spent + spent))
                if not changed.rowcount:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
                    s.add(t.QuotaSpend(platform=platform, credential=credential,
                                       period_start=start, period_end=end, spent=spent))
            return
        except IntegrityError:  # another worker inserted the row first: add to it
            continue


def last_cost(s: Session, account_pk: int) -> int:
    """What the account's last complete capture spent: the estimate for its next one."""
    cost = s.scalar(
        select(t.CaptureRun.quota_spent)
        .where(t.CaptureRun.account_pk == account_pk, t.CaptureRun.status == "complete")
        .order_by(t.CaptureRun.started_at.desc())
        .limit(1)
    )
    return int(cost or 0)


@dataclass(frozen=True)
class BudgetLine:
    platform: str
    credential: str
    unit: str
    period: str
    limit: int | None
    usable: int | None
    spent: int
    resets_at: datetime
    accounts: int
    need_per_period: int  # what the accounts' last captures, at the poll interval, would spend
    fit: int  # how many of the accounts fit the usable budget at the poll interval
    source: str

    @property
    def remaining(self) -> int | None:
        """What the credential may still spend this period (None: nothing limits it)."""
        return None if self.usable is None else max(0, self.usable - self.spent)

    @property
    def fits_all(self) -> bool:
        return self.fit >= self.accounts

    def warning(self) -> str:
        if self.fits_all or self.usable is None:
            return ""
        return (f"{self.platform} ({self.credential}): {self.accounts} accounts need about "
                f"{self.need_per_period:,} {self.unit} per {self.period} at the poll interval, over "
                f"the {self.usable:,} usable; {self.fit} of {self.accounts} fit - lengthen the "
                "interval, raise the budget, or add a credential")


def budget_report(app: App, *, fit: bool = True) -> list[BudgetLine]:
    """Per platform and credential: spent this period, when it resets, and whether the
    registered accounts fit at the configured poll interval (`fit=False`: not judged, so
    the accounts' last costs are not read; the daemon's budget alert, every heartbeat)."""
    now = app.clock.now()
    interval = timedelta(minutes=app.settings.daemon.poll_interval_minutes)
    lines: list[BudgetLine] = []
    limited = [p for p in sorted(app.settings.connectors) + sorted(MODELS)
               if (m := quota_model(app, p)) is not None and m.limit is not None]
    if not limited:
        return lines
    with app.catalog.session() as s:
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        counts: dict[tuple[str, str], int] = defaultdict(int)
        wanted = t.Account.platform.in_(sorted(set(limited)))
        if fit:
            for pk, platform, token_ref in s.execute(
                    select(t.Account.id, t.Account.platform, t.Account.token_ref).where(wanted)):
                groups[(platform, credential_of(token_ref))].append(pk)
                counts[(platform, credential_of(token_ref))] += 1
        else:  # counted by the database
            for platform, token_ref, n in s.execute(
                    select(t.Account.platform, t.Account.token_ref, func.count()).where(wanted)
                    .group_by(t.Account.platform, t.Account.token_ref)):
                counts[(platform, credential_of(token_ref))] += n
        for (platform, credential), accounts in sorted(counts.items()):
            pks = groups[(platform, credential)]
            model = quota_model(app, platform)
            if model is None or model.limit is None:
                continue
            start, end = period_bounds(model, now)
            spent = s.scalar(select(func.coalesce(func.sum(t.QuotaSpend.spent), 0)).where(
                t.QuotaSpend.platform == platform, t.QuotaSpend.credential == credential,
                t.QuotaSpend.period_start == start)) or 0
            cycles = max(1.0, _SECONDS[model.period] / max(interval.total_seconds(), 1.0))
            costs = sorted(last_cost(s, pk) for pk in pks) if fit else []
            need = math.ceil(sum(costs) * cycles)
            usable = model.usable
            fitting, running = 0 if fit else accounts, 0.0
            for cost in costs:
                running += cost * cycles
                if usable is not None and running > usable:
                    break
                fitting += 1
            lines.append(BudgetLine(platform, credential_label(credential), model.unit, model.period, model.limit, usable,
                                    int(spent), end, accounts, need, fitting, model.source))
    return lines
