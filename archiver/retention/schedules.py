"""Retention schedule files: the schema, loading, validation and the district overlay.

One YAML file per state ships in `retention_schedules/` (format: research report section 4,
`schema_version: 1`). A district may adopt its own file (`kind: district`) that overrides
state series by key and adds its own; Kansas has no state schedule for districts, so there
the district file is the schedule. Every figure keeps the status mark research gave it
(verified / partial / unverified); nothing here ever upgrades a mark. Unknown figures are null.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from archiver.core.errors import ScheduleInvalid
from archiver.retention.durations import Duration, parse_duration

Status = Literal["verified", "partial", "unverified"]
Kind = Literal["post", "comment", "reply", "message", "moderated", "media", "profile", "account_profile"]
Event = Literal[
    "created", "posted", "received", "provided", "removed", "edited", "superseded",
    "account_closed", "no_longer_needed", "last_action",
]
Cutoff = Literal["none", "calendar_year_end", "fiscal_year_end", "school_year_end"]
Disposition = Literal[
    "destroy", "transfer_to_archives", "transfer_to_archives_for_appraisal", "archival_review",
    "retain_permanently",
]
RetentionKind = Literal["fixed", "until_no_longer_needed", "until_superseded", "permanent"]

DISPOSING = {"destroy", "transfer_to_archives", "transfer_to_archives_for_appraisal"}
TRANSFERRING = {"transfer_to_archives", "transfer_to_archives_for_appraisal"}
STATUS_RANK = {"unverified": 0, "partial": 1, "verified": 2}


class Trigger(BaseModel):
    """When the retention clock starts: one event, or the later/earlier of several."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["event", "later_of", "earlier_of"]
    events: list[Event] = Field(min_length=1)
    cutoff: Cutoff = "none"
    fiscal_year_start: str | None = Field(None, pattern=r"^\d{2}-\d{2}$")
    note: str | None = None


class Selector(BaseModel):
    """Which items a series takes; all given conditions must hold. `default` = fallback."""

    model_config = ConfigDict(extra="forbid")

    account_role_in: list[str] | None = None
    content_class: str | None = None
    item_kind_in: list[Kind] | None = None
    default: bool = False


class Series(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None  # the official item / DAN; null when unknown (never invented)
    placeholder_key: str | None = None  # required when id is null
    revision: str | None = None
    schedule: str
    title: str | None = None
    description: str | None = None
    applies_to: list[Kind] = Field(min_length=1)
    select_when: Selector = Field(default_factory=Selector)
    retention: str | None = None  # ISO 8601 duration
    retention_kind: RetentionKind | None = None
    trigger: Trigger | None = None
    disposition: Disposition | None = None
    archival_designation: str | None = None
    transitory: bool | None = None
    status: Status
    sources: list[str] = Field(default_factory=list)
    note: str | None = None

    @field_validator("retention")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _identified_and_sourced(self) -> Series:
        if not self.id and not self.placeholder_key:
            raise ValueError("a series needs an id, or a placeholder_key when the id is unknown")
        if (self.status != "unverified" or self.retention is not None) and not self.sources:
            raise ValueError("sources: a series with a figure or a verified/partial mark needs a source")
        return self

    @property
    def key(self) -> str:
        return self.id or self.placeholder_key or ""

    @property
    def duration(self) -> Duration | None:
        return parse_duration(self.retention) if self.retention else None

    def applies(self, kind: str) -> bool:
        kinds = set(self.applies_to)
        return kind in kinds or (kind == "profile" and "account_profile" in kinds) or (
            kind == "reply" and "comment" in kinds)

    def digest(self) -> str:
        """Identifies the series text a records officer verified; any change needs re-verifying."""
        data = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(data).hexdigest()


class ScheduleRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    version: str | None = None
    version_date: str | None = None
    issuing_agency: str | None = None
    source_url: str | None = None
    status: Status
    note: str | None = None


class Approval(BaseModel):
    """A district schedule's own approval (board resolution, records officer)."""

    model_config = ConfigDict(extra="forbid")

    approved_by: str
    approved_on: str
    reference: str | None = None


class ScheduleFile(BaseModel):
    """A state file (`kind: state`, shipped) or a district file (`kind: district`, adopted)."""

    model_config = ConfigDict(extra="allow")  # public_records etc. belong to other features

    schema_version: Literal[1]
    kind: Literal["state", "district"] = "state"
    state: str = Field(pattern=r"^[A-Z]{2}$")
    state_name: str | None = None
    district: str | None = None
    approval: Approval | None = None
    last_researched: str | None = None
    schedules: list[ScheduleRef] = Field(default_factory=list)
    series: list[Series] = Field(default_factory=list)
    evaluation: dict[str, Any] = Field(default_factory=dict)
    holds: list[dict[str, Any]] = Field(default_factory=list)
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleFile:
        if self.kind == "district" and (not self.district or self.approval is None):
            raise ValueError("a district schedule needs `district` and `approval` (who approved it, when)")
        return self


@dataclass(frozen=True)
class Problem:
    """One finding of `schedules check`: file, series, field and what is wrong."""

    file: str
    series: str
    field: str
    message: str
    error: bool = True

    def line(self) -> str:
        where = f"{self.file}: series {self.series}" if self.series else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


# --- loading -------------------------------------------------------------------------------


def shipped_states() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in resources.files("retention_schedules").iterdir()
                  if p.name.endswith(".yaml"))


def shipped_text(state: str) -> str:
    path = resources.files("retention_schedules").joinpath(f"{state.upper()}.yaml")
    if not path.is_file():
        raise ScheduleInvalid(
            f"No schedule file ships for {state!r}; shipped: {', '.join(shipped_states())}. "
            "Adopt a district schedule with 'archiver schedules adopt FILE'."
        )
    return path.read_text(encoding="utf-8")


def validate_text(text: str, name: str) -> tuple[ScheduleFile | None, list[Problem]]:
    """Parse and validate; problems name the file, the series and the field.

    Cached by (text, name): every capture classifies its items against the schedule in force,
    and parsing the YAML again each time cost ~0.15 s of CPU per account (issue 14). The text
    is the key, so an adopted file that changes is parsed afresh; callers get their own list."""
    parsed, problems = _validate_text_cached(text, name)
    return parsed, list(problems)


@functools.lru_cache(maxsize=16)
def _validate_text_cached(text: str, name: str) -> tuple[ScheduleFile | None, tuple[Problem, ...]]:
    parsed, problems = _validate_text(text, name)
    return parsed, tuple(problems)


def _validate_text(text: str, name: str) -> tuple[ScheduleFile | None, list[Problem]]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, [Problem(name, "", "", f"not valid YAML ({str(exc).splitlines()[0]})")]
    if not isinstance(raw, dict):
        return None, [Problem(name, "", "", "not a schedule (expected a mapping at the top)")]
    problems: list[Problem] = []
    series_raw = raw.get("series") or []
    for index, entry in enumerate(series_raw if isinstance(series_raw, list) else []):
        label = _series_label(entry, index)
        try:
            Series.model_validate(entry)
        except ValidationError as exc:
            problems.extend(Problem(name, label, _field(err), err["msg"]) for err in exc.errors())
    try:
        parsed = ScheduleFile.model_validate(raw)
    except ValidationError as exc:
        problems.extend(Problem(name, "", _field(e), e["msg"]) for e in exc.errors()
                        if not (e["loc"] and e["loc"][0] == "series" and len(e["loc"]) > 2))
        return None, problems
    if problems:
        return None, problems
    return parsed, _cross_checks(parsed, name)


def _series_label(entry: Any, index: int) -> str:
    if isinstance(entry, dict):
        return str(entry.get("id") or entry.get("placeholder_key") or f"#{index + 1}")
    return f"#{index + 1}"


def _field(error: Any) -> str:
    loc = [str(p) for p in error["loc"] if not isinstance(p, int)]
    return ".".join(loc) or "(series)"


def _cross_checks(parsed: ScheduleFile, name: str) -> list[Problem]:
    problems = []
    known = {s.id for s in parsed.schedules}
    seen: set[str] = set()
    for s in parsed.series:
        if parsed.kind == "state" and s.schedule not in known:
            problems.append(Problem(name, s.key, "schedule", f"{s.schedule!r} is not listed under schedules"))
        if s.key in seen:
            problems.append(Problem(name, s.key, "id", "the same series appears twice"))
        seen.add(s.key)
        if s.trigger and s.trigger.cutoff == "fiscal_year_end" and not s.trigger.fiscal_year_start:
            problems.append(Problem(name, s.key, "trigger.fiscal_year_start",
                                    "unknown: the clock cannot be computed until it is given", error=False))
    return problems


def load_file(path: Path) -> ScheduleFile:
    parsed, problems = validate_text(path.read_text(encoding="utf-8"), path.name)
    errors = [p for p in problems if p.error]
    if parsed is None or errors:
        raise ScheduleInvalid(f"{errors[0].line()} (run 'archiver schedules check FILE' for all problems)")
    return parsed


def load_state(state: str) -> ScheduleFile:
    parsed, problems = validate_text(shipped_text(state), f"{state.upper()}.yaml")
    errors = [p for p in problems if p.error]
    if parsed is None or errors:
        raise ScheduleInvalid(f"{errors[0].line()}; the shipped file is broken, report it")
    return parsed


# --- the effective schedule ----------------------------------------------------------------


@dataclass(frozen=True)
class Effective:
    """The state file overlaid with the adopted district file: what classification uses."""

    state: str
    series: tuple[Series, ...]
    schedules: dict[str, ScheduleRef]
    source_of: dict[str, str]  # series key -> "state" or "district"
    district: str | None = None
    district_sha256: str | None = None

    def get(self, key: str) -> Series | None:
        return next((s for s in self.series if s.key == key), None)

    def most_conservative(self, kind: str) -> Series | None:
        """The series that keeps records longest: unknown or permanent beats any figure,
        archival beats destroy, non-transitory beats transitory."""
        candidates = [s for s in self.series if s.applies(kind)] or list(self.series)
        if not candidates:
            return None
        return max(candidates, key=_conservativeness)

    def fingerprint(self) -> str:
        return hashlib.sha256("|".join(s.digest() for s in self.series).encode()).hexdigest()[:16]


def _conservativeness(s: Series) -> tuple[bool, float, bool, int]:
    d = s.duration
    length = float("inf") if d is None or s.retention_kind in {"permanent", "until_no_longer_needed"} \
        else d.approx_days
    return (not s.transitory, length, s.disposition != "destroy", -STATUS_RANK[s.status])


def overlay(state_file: ScheduleFile, district: ScheduleFile | None, district_sha256: str | None = None
            ) -> Effective:
    """District series come first (they are the more specific rules), then the state's."""
    schedules = {s.id: s for s in state_file.schedules}
    source_of = {s.key: "state" for s in state_file.series}
    if district is None:
        return Effective(state_file.state, tuple(state_file.series), schedules, source_of)
    schedules.update({s.id: s for s in district.schedules})
    keys = {s.key for s in district.series}
    merged = list(district.series) + [s for s in state_file.series if s.key not in keys]
    source_of.update({k: "district" for k in keys})
    return Effective(state_file.state, tuple(merged), schedules, source_of,
                     district.district, district_sha256)


def contradictions(state_file: ScheduleFile, district: ScheduleFile, name: str) -> list[Problem]:
    """Where a district file would weaken what the state file requires."""
    problems = []
    if district.kind != "district":
        problems.append(Problem(name, "", "kind", "must be 'district' for a file a district adopts"))
    if district.state != state_file.state:
        problems.append(Problem(name, "", "state", f"{district.state} does not match the archive's state "
                                                   f"{state_file.state}"))
    schedules = {s.id for s in state_file.schedules} | {s.id for s in district.schedules}
    by_key = {s.key: s for s in state_file.series}
    for s in district.series:
        if s.schedule not in schedules:
            problems.append(Problem(name, s.key, "schedule", f"{s.schedule!r} is not listed in either file"))
        base = by_key.get(s.key)
        if base is None:
            continue
        if base.duration and s.duration and base.status == "verified" and \
                s.duration.add_to(_EPOCH) < base.duration.add_to(_EPOCH):
            problems.append(Problem(name, s.key, "retention", f"{s.retention} is shorter than the state's "
                                    f"verified {base.retention}; a district may keep longer, never shorter"))
        if base.disposition in TRANSFERRING and s.disposition == "destroy":
            problems.append(Problem(name, s.key, "disposition", f"destroy contradicts the state's "
                                    f"{base.disposition}"))
        if base.retention_kind == "permanent" and s.retention_kind != "permanent":
            problems.append(Problem(name, s.key, "retention_kind", "the state keeps this series permanently"))
    return problems


_EPOCH = datetime(2001, 1, 31, tzinfo=UTC)  # any fixed date: compares two durations


# --- what can dispose automatically --------------------------------------------------------


def blockers(series: Series, schedule: ScheduleRef | None, verified: bool) -> list[str]:
    """Why this series cannot dispose automatically (empty = it can, once its clock runs out).

    A series, or the schedule it belongs to, that is not marked verified needs a records
    officer's confirmation against the official schedule (`schedules verify`) first.
    """
    reasons = []
    marks = [series.status] + ([schedule.status] if schedule else [])
    if not verified and any(m != "verified" for m in marks):
        what = series.status if series.status != "verified" else f"schedule {schedule.id if schedule else ''} " \
            f"{schedule.status if schedule else ''}".strip()
        reasons.append(f"held for verification ({what}): confirm with 'archiver schedules verify'")
    if series.retention_kind in {"until_no_longer_needed", "until_superseded"}:
        reasons.append(f"retention is '{series.retention_kind}': needs a person's decision, never automatic")
    elif series.retention_kind == "permanent" or series.disposition == "retain_permanently":
        reasons.append("kept permanently")
    elif series.retention is None:
        reasons.append("retention period unknown (null in the schedule)")
    if series.trigger is None:
        reasons.append("trigger unknown (null in the schedule)")
    elif series.trigger.cutoff == "fiscal_year_end" and not series.trigger.fiscal_year_start:
        reasons.append("fiscal year start unknown")
    if series.disposition is None:
        reasons.append("disposition unknown (null in the schedule)")
    elif series.disposition == "archival_review":
        reasons.append("archival review: the state archives decide, never automatic")
    return reasons


def check_all(states: Iterable[str] | None = None, extra: Iterable[Path] = ()) -> list[Problem]:
    """Validate every shipped file (and any given files) and list each series that cannot
    dispose automatically, with why (as non-error findings)."""
    problems: list[Problem] = []
    for state in states or shipped_states():
        name = f"{state}.yaml"
        parsed, found = validate_text(shipped_text(state), name)
        problems.extend(found)
        if parsed is not None:
            problems.extend(_blocking_notes(parsed, name))
    for path in extra:
        parsed, found = validate_text(path.read_text(encoding="utf-8"), path.name)
        problems.extend(found)
        if parsed is not None and parsed.kind == "district":
            try:
                base = load_state(parsed.state)
            except ScheduleInvalid:
                base = None
            if base is not None:
                problems.extend(contradictions(base, parsed, path.name))
            problems.extend(_blocking_notes(parsed, path.name, base))
    return problems


def _blocking_notes(parsed: ScheduleFile, name: str, base: ScheduleFile | None = None) -> list[Problem]:
    refs = {s.id: s for s in ([*base.schedules] if base else [])} | {s.id: s for s in parsed.schedules}
    notes = []
    if not parsed.series:
        notes.append(Problem(name, "", "series", "no series: adopt a district schedule "
                             "('archiver schedules adopt FILE'); nothing disposes until then", error=False))
    for s in parsed.series:
        reasons = blockers(s, refs.get(s.schedule), verified=False)
        if reasons:
            notes.append(Problem(name, s.key, "", "cannot dispose automatically: " + "; ".join(reasons),
                                 error=False))
    return notes


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
