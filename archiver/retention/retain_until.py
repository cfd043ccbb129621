"""Retain-until: from a series and the trigger events the archive has seen for one item.

Content published online is "provided" until it is removed (WA CORE GS50-01-12 note), so a
live post's clock has not started: it has no end date yet, and its retain-until is None with
`waits_for` saying why. Once a date is given it never moves earlier (`never_earlier`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from archiver.retention.schedules import Series

# What each schedule event means for a captured item; None = not yet happened / not knowable.
OPEN_REASON = {
    "provided": "removal from the platform (online content is provided until removed)",
    "removed": "removal from the platform",
    "account_closed": "the account's closure",
    "edited": "an edit (not tracked as a trigger)",
    "superseded": "a superseding record (a person's decision)",
    "no_longer_needed": "a person's decision that it is no longer needed",
    "last_action": "the last action on the complaint (a person's decision)",
}


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What classification and the clock need to know about one item (no ORM rows)."""

    kind: str
    account_role: str
    first_seen_at: datetime
    last_seen_at: datetime
    created_at: datetime | None = None
    deleted_at: datetime | None = None
    account_closed_at: datetime | None = None
    content_class: str | None = None

    def event(self, name: str) -> datetime | None:
        if name in {"created", "posted", "received"}:
            return self.created_at or self.first_seen_at
        if name in {"provided", "removed"}:
            return self.deleted_at
        if name == "account_closed":
            return self.account_closed_at
        return None


@dataclass(frozen=True, slots=True)
class Clock:
    trigger_at: datetime | None
    retain_until: datetime | None
    waits_for: str  # "" when the date is known


def compute(series: Series | None, facts: ItemFacts) -> Clock:
    """The item's trigger date and retain-until, or what they wait for."""
    if series is None:
        return Clock(None, None, "a schedule series (none applies: adopt a district schedule)")
    if series.retention_kind == "permanent" or series.disposition == "retain_permanently":
        return Clock(None, None, "nothing: kept permanently")
    if series.retention_kind in {"until_no_longer_needed", "until_superseded"}:
        return Clock(None, None, f"a person's decision ({series.retention_kind})")
    duration = series.duration
    if duration is None:
        return Clock(None, None, "a retention period (null in the schedule)")
    if series.trigger is None:
        return Clock(None, None, "a trigger (null in the schedule)")
    trigger, waiting = _trigger(series, facts, lower_bound=False)
    if trigger is None:
        return Clock(None, None, waiting)
    cut = _cutoff(series, trigger)
    if cut is None:
        return Clock(trigger, None, "the fiscal year start (null in the schedule)")
    return Clock(trigger, duration.add_to(cut), "")


def earliest_lawful(series: Series | None, facts: ItemFacts) -> datetime | None:
    """The earliest date the law could allow this item's destruction, whatever happens next:
    an open 'provided' clock cannot start before the item was last seen online. None when
    the series gives no figure (then nothing can be said, and nothing is locked for it)."""
    if series is None or series.trigger is None or series.duration is None:
        return None
    if series.retention_kind not in {None, "fixed"}:
        return None
    trigger, _ = _trigger(series, facts, lower_bound=True)
    cut = _cutoff(series, trigger) if trigger else None
    return series.duration.add_to(cut) if cut else None


def never_earlier(floor: datetime | None, clock: Clock) -> tuple[Clock, datetime | None]:
    """Apply the floor: a date, once given, only moves later. Returns (clock, new floor)."""
    if clock.retain_until is None:
        return clock, floor
    if floor is not None and clock.retain_until < floor:
        clock = Clock(clock.trigger_at, floor, clock.waits_for)
    return clock, clock.retain_until


def _trigger(series: Series, facts: ItemFacts, *, lower_bound: bool) -> tuple[datetime | None, str]:
    assert series.trigger is not None
    known: list[datetime] = []
    open_events: list[str] = []
    for name in series.trigger.events:
        when = facts.event(name)
        if when is None and lower_bound and name in {"provided", "removed", "account_closed"}:
            when = facts.last_seen_at  # it was still there when last seen
        if when is None:
            open_events.append(name)
        else:
            known.append(when)
    kind = series.trigger.type
    if kind in {"event", "later_of"} and open_events:
        return None, OPEN_REASON.get(open_events[0], open_events[0])
    if not known:
        return None, OPEN_REASON.get(open_events[0], open_events[0]) if open_events else "a trigger"
    if kind == "earlier_of":
        return min(known), ""
    return max(known), ""


def _cutoff(series: Series, when: datetime) -> datetime | None:
    assert series.trigger is not None
    cutoff = series.trigger.cutoff
    if cutoff == "none":
        return when
    if cutoff == "calendar_year_end":
        return datetime(when.year + 1, 1, 1, tzinfo=UTC)
    start = series.trigger.fiscal_year_start
    if not start:
        return None
    month, day = (int(x) for x in start.split("-"))
    candidate = datetime(when.year, month, day, tzinfo=UTC)
    return candidate if candidate > when else datetime(when.year + 1, month, day, tzinfo=UTC)
