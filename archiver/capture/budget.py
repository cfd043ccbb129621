"""Spending a credential's quota: every request is charged before it is sent.

The platform's quota model (connectors.quotas) says what a request costs and how much one
credential may spend per period; the catalog's ledger says what every capture with that
credential has spent in the current period. A request that would cross the usable part of the
limit is never sent: the capture stops with `BudgetSpent` (a TryLater) and resumes after the
reset, so the platform never has to throttle us. Graph platforms publish usage percentages in
headers instead of a fixed figure; the Graph connector itself pauses at 95% of them
(connectors/graph.py), so no budget is kept for them unless the district sets one. Windows are fixed
(a 5-minute window starts on the 5-minute mark), a conservative stand-in for sliding ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from archiver.core.clock import Clock
from archiver.core.errors import TryLater
from connectors.quotas import QuotaModel

log = logging.getLogger(__name__)

_FIXED = {"minute": 60, "5min": 300, "15min": 900, "hour": 3600}


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

    # Earlier windows this capture spent in and then waited out: (start, end, spent).
    closed: list[tuple[datetime, datetime, int]] = field(default_factory=list)

    def charge(self, method: str, url: str, account: str = "", clock: Clock | None = None) -> None:
        """Spend `cost` now, or raise BudgetSpent. A short window (minutes) is waited out
        instead, pacing the capture the way the platform's limit means it: a first capture
        larger than one window's allowance still completes."""
        cost = self.model.cost(method, url)
        remaining = self.remaining
        if remaining is not None and cost > remaining:
            size = _FIXED.get(self.model.period)
            if clock is None or size is None:
                raise self._spent(account)
            wait = (self.period_end - clock.now()).total_seconds()
            if wait > size:
                raise self._spent(account)
            log.info("%s budget window spent for %s; pacing: waiting %.0fs for the next one",
                     self.model.platform, account or "this credential", max(wait, 0))
            clock.sleep(max(wait, 0.0))
            self.closed.append((self.period_start, self.period_end, self.spent))
            self.period_start, self.period_end = period_bounds(self.model, max(clock.now(), self.period_end))
            self.spent_before, self.spent = 0, 0
        self.spent += cost

    @property
    def total(self) -> int:
        """What this capture spent in every window it ran through."""
        return self.spent + sum(spent for _start, _end, spent in self.closed)

    def fits(self, estimate: int) -> bool:
        """Whether a capture costing `estimate` can start now. Minute-sized windows always
        let it start: `charge` paces it through as many windows as it needs."""
        remaining = self.remaining
        return remaining is None or self.model.period in _FIXED or estimate <= remaining

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


