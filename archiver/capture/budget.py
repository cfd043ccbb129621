"""Spending a credential's quota: every request is charged before it is sent.

The platform's quota model (connectors.quotas) says what a request costs and how much one
credential may spend per period; the catalog's ledger says what every capture with that
credential has spent in the current period. A request that would cross the usable part of the
limit is never sent: the capture stops with `BudgetSpent` (a TryLater) and resumes after the
reset, so the platform never has to throttle us. Graph platforms publish usage percentages in
headers instead of a fixed figure; those are watched after each response. Windows are fixed
(a 5-minute window starts on the 5-minute mark), a conservative stand-in for sliding ones.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from archiver.core.errors import TryLater
from archiver.core.models import CapturedExchange
from connectors.quotas import QuotaModel

log = logging.getLogger(__name__)

_FIXED = {"minute": 60, "5min": 300, "15min": 900, "hour": 3600}
GRAPH_STOP_PERCENT = 90  # Graph throttles at 100% of its usage figures: stop before


class BudgetSpent(TryLater):
    """This credential's budget for the period is spent; capture resumes after the reset."""


def period_bounds(model: QuotaModel, now: datetime) -> tuple[datetime, datetime]:
    """The current period of `model` as UTC [start, end)."""
    now = now.astimezone(UTC)
    if model.period in _FIXED:
        size = _FIXED[model.period]
        start_ts = int(now.timestamp()) // size * size
        start = datetime.fromtimestamp(start_ts, UTC)
        return start, start + timedelta(seconds=size)
    local = now.astimezone(ZoneInfo(model.reset_tz))
    if model.period == "day":
        start_local = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # Midnight to midnight in local time (23 or 25 hours across a DST change).
        next_day = (start_local + timedelta(days=1, hours=2)).replace(hour=0)
        end_local = next_day.replace(tzinfo=None).replace(tzinfo=ZoneInfo(model.reset_tz))
        return start_local.astimezone(UTC), end_local.astimezone(UTC)
    if model.period == "month":
        start_local = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = (start_local.year + 1, 1) if start_local.month == 12 else (start_local.year, start_local.month + 1)
        end_local = start_local.replace(year=year, month=month)
        return start_local.astimezone(UTC), end_local.astimezone(UTC)
    raise ValueError(f"unknown period {model.period!r}")


@dataclass
class Budget:
    """One capture's view of a credential's budget for the current period."""

    model: QuotaModel
    credential: str
    period_start: datetime
    period_end: datetime
    spent_before: int = 0  # by every capture with this credential earlier in the period
    spent: int = 0  # by this capture

    @property
    def remaining(self) -> int | None:
        usable = self.model.usable
        return None if usable is None else max(0, usable - self.spent_before - self.spent)

    def charge(self, method: str, url: str, account: str = "") -> None:
        cost = self.model.cost(method, url)
        remaining = self.remaining
        if remaining is not None and cost > remaining:
            raise self._spent(account)
        self.spent += cost

    def fits(self, estimate: int) -> bool:
        remaining = self.remaining
        return remaining is None or estimate <= remaining

    def _spent(self, account: str) -> BudgetSpent:
        m = self.model
        return BudgetSpent(
            f"{m.platform} budget for this credential is spent ({self.spent_before + self.spent:,} of "
            f"{m.limit:,} {m.unit} this {m.period}, {m.reserve:.0%} kept in reserve); capture "
            f"resumes after {self.period_end:%Y-%m-%d %H:%M} UTC",
            retry_at=self.period_end,
            platform=m.platform,
            account=account,
        )

    def deferral(self, account: str, estimate: int) -> BudgetSpent:
        m = self.model
        return BudgetSpent(
            f"{m.platform} budget cannot fit this account's capture now (about {estimate:,} {m.unit} "
            f"needed, {self.remaining:,} left this {m.period}); it runs after "
            f"{self.period_end:%Y-%m-%d %H:%M} UTC",
            retry_at=self.period_end,
            platform=m.platform,
            account=account,
        )

    def observe(self, exchange: CapturedExchange, now: datetime, account: str = "") -> None:
        """Graph's usage headers: stop at GRAPH_STOP_PERCENT of any figure, before the 100%
        at which the platform throttles."""
        if not self.model.usage_headers:
            return
        worst, regain = _graph_usage(exchange)
        if worst >= GRAPH_STOP_PERCENT:
            retry = now + timedelta(minutes=regain or 60)
            raise BudgetSpent(
                f"{self.model.platform} reports {worst}% of its call budget used for this "
                f"credential; capture stops before it throttles and resumes after "
                f"{retry:%Y-%m-%d %H:%M} UTC",
                retry_at=retry,
                platform=self.model.platform,
                account=account,
                evidence=exchange.response_pointer,
            )


def _graph_usage(exchange: CapturedExchange) -> tuple[int, int]:
    """The highest usage percentage in X-App-Usage / X-Business-Use-Case-Usage, and the minutes
    Graph says it takes to regain access (0 when it does not say)."""
    worst, regain = 0, 0
    for name in ("x-app-usage", "x-business-use-case-usage"):
        raw = exchange.header(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries = [data] if name == "x-app-usage" else [
            e for v in (data.values() if isinstance(data, dict) else []) for e in (v if isinstance(v, list) else [])
        ]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("call_count", "total_time", "total_cputime"):
                value = entry.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    worst = max(worst, int(value))
            wait = entry.get("estimated_time_to_regain_access")
            if isinstance(wait, int | float) and not isinstance(wait, bool):
                regain = max(regain, int(wait))
    return worst, regain
