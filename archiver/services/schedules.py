"""Use cases for schedule files: list, show, check, adopt a district file, verify a series.

Returned objects are frozen data, never ORM rows. Every decision (adoption, verification) is
an audit entry; both re-classify every item, since either can change an item's series or the
date it may be destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog import retention_tables as rt
from archiver.core.errors import ConfigError, ScheduleInvalid
from archiver.retention.active import adopted_row, load_effective, series_blockers, verified_keys
from archiver.retention.classify import classify_items
from archiver.retention.schedules import (
    Problem,
    check_all,
    contradictions,
    load_state,
    sha256_text,
    shipped_states,
    validate_text,
)


@dataclass(frozen=True)
class ScheduleSummary:
    state: str
    name: str
    series: int
    disposable: int  # series that may dispose automatically now
    in_force: bool
    district: str | None


@dataclass(frozen=True)
class SeriesView:
    key: str
    official_id: str | None
    title: str | None
    schedule: str
    source: str  # state | district
    applies_to: list[str]
    selection: str
    retention: str | None
    retention_kind: str | None
    trigger: str | None
    disposition: str | None
    status: str
    sources: list[str]
    verified_by: str | None
    verified_citation: str | None
    blockers: list[str]


@dataclass(frozen=True)
class ScheduleView:
    state: str
    state_name: str | None
    schedules: list[dict]
    district: str | None
    series: list[SeriesView] = field(default_factory=list)


@dataclass(frozen=True)
class AdoptResult:
    state: str
    district: str
    file_name: str
    sha256: str
    series: int
    reclassified: int


@dataclass(frozen=True)
class VerifyResult:
    state: str
    series: str
    citation: str
    verified_by: str
    disposable: bool
    still_blocked: list[str]
    reclassified: int



def _archive_state(app: App) -> str:
    if not app.settings.state:
        raise ConfigError('No state is set for this archive; write state = "WA" (your state) in '
                          "archiver.toml or set ARCHIVER_STATE, then adopt the district file")
    return app.settings.state.upper()


def list_schedules(app: App) -> list[ScheduleSummary]:
    current = (app.settings.state or "").upper()
    out = []
    with app.catalog.session() as s:
        for state in shipped_states():
            try:
                effective = load_effective(s, state)
            except ScheduleInvalid:
                continue
            blocked = series_blockers(s, effective)
            base = load_state(state)
            name = base.schedules[0].name if base.schedules else state
            out.append(ScheduleSummary(state, name, len(effective.series),
                                       sum(1 for b in blocked.values() if not b), state == current,
                                       effective.district))
    return out


def show_schedule(app: App, state: str) -> ScheduleView:
    state = state.upper()
    base = load_state(state)
    with app.catalog.session() as s:
        effective = load_effective(s, state)
        blocked = series_blockers(s, effective)
        verified = verified_keys(s, effective)
        rows = {r.series: r for r in s.scalars(select(rt.SeriesVerification)
                                               .where(rt.SeriesVerification.state == state)
                                               .order_by(rt.SeriesVerification.id))}
    views = []
    for series in effective.series:
        sel = series.select_when
        selection = ", ".join(filter(None, [
            f"role in {sel.account_role_in}" if sel.account_role_in else "",
            f"content class {sel.content_class}" if sel.content_class else "",
            f"kind in {sel.item_kind_in}" if sel.item_kind_in else "",
            "default" if sel.default else "",
        ])) or "never selected by a rule"
        trig = series.trigger
        trigger = (f"{trig.type}({', '.join(trig.events)})" + (f", cutoff {trig.cutoff}" if trig.cutoff != "none" else "")
                   ) if trig else None
        v = rows.get(series.key) if series.key in verified else None
        views.append(SeriesView(
            series.key, series.id, series.title, series.schedule, effective.source_of.get(series.key, "state"),
            list(series.applies_to), selection, series.retention, series.retention_kind, trigger,
            series.disposition, series.status, list(series.sources), v.verified_by if v else None,
            v.citation if v else None, blocked[series.key],
        ))
    schedules = [sch.model_dump(mode="json", exclude_none=True) for sch in effective.schedules.values()]
    return ScheduleView(state, base.state_name, schedules, effective.district, views)


def check_schedules(files: list[Path]) -> list[Problem]:
    for path in files:
        if not path.is_file():
            raise ConfigError(f"No schedule file at {path}; give the path of a YAML file")
    return check_all(extra=files)


def adopt_schedule(app: App, path: Path, *, actor: str) -> AdoptResult:
    """Adopt a district schedule file over the state's (validated; contradictions refused)."""
    if not path.is_file():
        raise ConfigError(f"No schedule file at {path}; give the path of a YAML file")
    text = path.read_text(encoding="utf-8")
    parsed, problems = validate_text(text, path.name)
    errors = [p for p in problems if p.error]
    if parsed is None or errors:
        raise ScheduleInvalid(f"{errors[0].line()} (run 'archiver schedules check {path}' for all problems)")
    state = _archive_state(app)
    if parsed.state != state:
        raise ScheduleInvalid(f"{path.name}: state: {parsed.state} is not this archive's state {state} "
                              "(ARCHIVER_STATE)")
    conflicts = contradictions(load_state(state), parsed, path.name)
    if conflicts:
        raise ScheduleInvalid(f"{conflicts[0].line()}; fix the file and adopt it again")
    assert parsed.approval is not None and parsed.district is not None
    now = app.clock.now()
    digest = sha256_text(text)
    with app.catalog.session() as s:
        previous = adopted_row(s, state)
        if previous is not None:
            previous.retired_at = now
        s.add(rt.AdoptedSchedule(
            state=state, district=parsed.district, file_name=path.name, content=text, sha256=digest,
            approved_by=parsed.approval.approved_by, approved_on=parsed.approval.approved_on,
            approval_reference=parsed.approval.reference or "", adopted_by=actor, adopted_at=now,
        ))
        s.flush()
        audit.append(s, actor=actor, action="schedule.adopt", subject=f"schedule:{state}", at=now, details={
            "file": path.name, "sha256": digest, "district": parsed.district,
            "approved_by": parsed.approval.approved_by, "approved_on": parsed.approval.approved_on,
            "reference": parsed.approval.reference or "", "series": [x.key for x in parsed.series],
            "replaces": previous.sha256 if previous is not None else None,
        })
        changed = classify_items(s, load_effective(s, state), now)
    return AdoptResult(state, parsed.district, path.name, digest, len(parsed.series), changed)


def verify_series(app: App, state: str, series_key: str, *, citation: str, by: str, actor: str) -> VerifyResult:
    """Record a records officer's confirmation of one series against the official schedule."""
    state = state.upper()
    if not citation.strip() or not by.strip():
        raise ConfigError("A verification needs --citation (where in the official schedule) and --by (who checked)")
    now = app.clock.now()
    with app.catalog.session() as s:
        effective = load_effective(s, state)
        series = effective.get(series_key)
        if series is None:
            known = ", ".join(x.key for x in effective.series) or "none"
            raise ScheduleInvalid(f"No series {series_key!r} in the {state} schedule (series: {known})")
        s.add(rt.SeriesVerification(state=state, series=series.key, series_digest=series.digest(),
                                    citation=citation.strip(), verified_by=by.strip(), recorded_by=actor,
                                    verified_at=now))
        s.flush()
        audit.append(s, actor=actor, action="schedule.verify", subject=f"series:{state}:{series.key}", at=now,
                     details={"citation": citation.strip(), "verified_by": by.strip(),
                              "file_status": series.status, "series_digest": series.digest()})
        remaining = series_blockers(s, effective)[series.key]
        changed = classify_items(s, effective, now) if state == (app.settings.state or "").upper() else 0
    return VerifyResult(state, series.key, citation.strip(), by.strip(), not remaining, remaining, changed)
