"""Reconciliation sweeps: which older items one cycle re-reads, and where each pass stands.

Items fall into three windows by age (recent, warm, cold), each with its own cadence: one pass
over the window per period. A pass is cut into slices, one per cycle, sized so the pass ends in
about one period; all slices together never exceed `sweep_share` of the account's top-level
items, so a cycle's cost stays bounded whatever the archive's size (the pass then takes longer,
and `accounts list` shows when each window was last reconciled in full). Positions survive
restarts (the caller persists the states) and a cycle that fails leaves them where they were.
Pure: no SQL, no clock of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from archiver.core.plan import KnownItem

WINDOWS = ("recent", "warm", "cold")


class SweepSettings(Protocol):
    recent_days: float
    recent_every_hours: float
    warm_days: float
    warm_every_hours: float
    cold_every_hours: float
    sweep_share: float


@dataclass(frozen=True, slots=True)
class WindowState:
    """One window's pass: `position` is the sort key of the last item done in the current
    pass ("" between passes); `last_full_at` when a pass last ended."""

    window: str
    position: str = ""
    pass_started_at: datetime | None = None
    last_full_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SweepPlan:
    item_ids: frozenset[str]
    states: dict[str, WindowState]  # to persist once the cycle completes


def _key(item: KnownItem) -> str:
    created = item.created_at.strftime("%Y%m%dT%H%M%S") if item.created_at else "0"
    return f"{created}|{item.item_id}"


def window_of(item: KnownItem, settings: SweepSettings, now: datetime) -> str:
    if item.created_at is None:
        return "cold"
    age = now - item.created_at
    if age < timedelta(days=settings.recent_days):
        return "recent"
    if age < timedelta(days=settings.warm_days):
        return "warm"
    return "cold"


def _period(window: str, settings: SweepSettings) -> timedelta:
    hours = {"recent": settings.recent_every_hours, "warm": settings.warm_every_hours,
             "cold": settings.cold_every_hours}[window]
    return timedelta(hours=hours)


def top_level(known: Mapping[str, KnownItem]) -> list[KnownItem]:
    return [k for k in known.values() if k.parent_id is None]


def plan_sweep(
    items: Iterable[KnownItem],
    states: Mapping[str, WindowState],
    settings: SweepSettings,
    *,
    now: datetime,
    interval: timedelta,
) -> SweepPlan:
    """The slice of each window due this cycle and the window states after it."""
    members: dict[str, list[KnownItem]] = {w: [] for w in WINDOWS}
    total = 0
    for item in items:
        members[window_of(item, settings, now)].append(item)
        total += 1
    budget = max(1, math.ceil(settings.sweep_share * total))
    wanted: dict[str, list[KnownItem]] = {}
    for window in WINDOWS:
        state = states.get(window) or WindowState(window)
        period = _period(window, settings)
        if not state.position and state.last_full_at is not None and now < state.last_full_at + period:
            continue  # this window's pass ended less than a period ago
        ordered = sorted(members[window], key=_key)
        remaining = [m for m in ordered if _key(m) > state.position] if state.position else ordered
        cycles = max(1.0, period / interval) if interval.total_seconds() > 0 else 1.0
        per_cycle = math.ceil(len(ordered) / cycles) if ordered else 0
        wanted[window] = remaining[: max(per_cycle, 1 if remaining else 0)]
    asked = sum(len(v) for v in wanted.values())
    if asked > budget:  # share the budget in proportion, at least one item per window
        scale = budget / asked
        wanted = {w: v[: max(1, math.floor(len(v) * scale))] if v else v for w, v in wanted.items()}
    chosen: set[str] = set()
    after: dict[str, WindowState] = {}
    for window in WINDOWS:
        state = states.get(window) or WindowState(window)
        if window not in wanted:
            after[window] = state
            continue
        taken = wanted[window]
        chosen.update(k.item_id for k in taken)
        started = state.pass_started_at if state.position else now
        ordered = sorted(members[window], key=_key)
        remaining = [m for m in ordered if _key(m) > state.position] if state.position else ordered
        if len(taken) >= len(remaining):
            after[window] = WindowState(window, "", started, now)
        else:
            after[window] = replace(state, position=_key(taken[-1]), pass_started_at=started)
    return SweepPlan(frozenset(chosen), after)


def all_reconciled(now: datetime) -> dict[str, WindowState]:
    """The states after a full capture: every window's pass has just ended."""
    return {w: WindowState(w, "", now, now) for w in WINDOWS}
