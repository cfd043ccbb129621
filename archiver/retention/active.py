"""The schedule in force for this archive: the state's file overlaid with the adopted district
file, and which series a records officer has verified (for the text they verified)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.catalog import retention_tables as rt
from archiver.core.errors import ConfigError, ScheduleInvalid
from archiver.retention.schedules import Effective, blockers, load_state, overlay, validate_text


def adopted_row(session: Session, state: str) -> rt.AdoptedSchedule | None:
    return session.scalar(
        select(rt.AdoptedSchedule)
        .where(rt.AdoptedSchedule.state == state.upper(), rt.AdoptedSchedule.retired_at.is_(None))
        .order_by(rt.AdoptedSchedule.id.desc())
    )


def load_effective(session: Session, state: str | None) -> Effective:
    if not state:
        raise ConfigError('No state is set, so no retention schedule applies; write state = "WA" '
                          "(your state) in archiver.toml or set ARCHIVER_STATE")
    base = load_state(state.upper())
    row = adopted_row(session, state)
    if row is None:
        return overlay(base, None)
    parsed, problems = validate_text(row.content, row.file_name)
    if parsed is None or any(p.error for p in problems):
        raise ScheduleInvalid(f"The adopted district schedule {row.file_name} no longer validates; "
                              "run 'archiver schedules check' and adopt a corrected file")
    return overlay(base, parsed, row.sha256)


def verified_keys(session: Session, effective: Effective) -> set[str]:
    """Series confirmed by a records officer for exactly the text now in force."""
    digests = {s.key: s.digest() for s in effective.series}
    rows = session.scalars(select(rt.SeriesVerification).where(rt.SeriesVerification.state == effective.state))
    return {r.series for r in rows if digests.get(r.series) == r.series_digest}


def series_blockers(session: Session, effective: Effective) -> dict[str, list[str]]:
    """For every series in force: why it cannot dispose automatically (empty list: it can)."""
    verified = verified_keys(session, effective)
    return {s.key: blockers(s, effective.schedules.get(s.schedule), s.key in verified)
            for s in effective.series}
