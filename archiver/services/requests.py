"""Public records request use cases: open, extend, close, gather, review, decide, export.

Each change is one catalog transaction that also appends its audit entry, so a request and
its audit trail never disagree. Holds on responsive items go through the holds service
(retention) after that transaction: see `_place_hold` and `_release_holds`.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, selectinload

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog import tables as t
from archiver.catalog.request_tables import (
    RecordsRequest,
    RequestDecision,
    RequestExtension,
    RequestHold,
    RequestItem,
    RequestSearch,
)
from archiver.catalog.search import SearchFilters
from archiver.catalog.search import search as run_search
from archiver.core.actor import current_actor
from archiver.core.errors import ConfigError, RequestError
from archiver.requests import register
from archiver.requests.deadlines import CalendarDay, compute, extension_limit, rule_for
from archiver.requests.district_calendar import FILE_NAME, load_calendar
from archiver.requests.package.model import ExportRequest
from archiver.requests.register import OUTCOMES, VIA, RequestView
from archiver.requests.review import Finding, ReviewState, load_roster, replay, scan

MAX_ADD = 10_000  # items one --query may add; a broader query is refused, not truncated


@dataclass(frozen=True)
class AuditView:
    at: str
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class SearchView:
    id: int
    query: str
    filters: dict[str, Any]
    results: int
    by: str
    at: str


@dataclass(frozen=True)
class DecisionView:
    item_id: str
    action: str
    exemption: str
    by: str
    at: str
    text_sha256: str | None  # the redacted words are never echoed in lists or logs


@dataclass(frozen=True)
class RequestDetail:
    request: RequestView
    notes: tuple[str, ...]
    searches: tuple[SearchView, ...]
    decisions: tuple[DecisionView, ...]
    audit: tuple[AuditView, ...]

    def as_dict(self) -> dict[str, Any]:
        return {**self.request.as_dict(), "notes": list(self.notes),
                "searches": [asdict(s) for s in self.searches],
                "decisions": [asdict(d) for d in self.decisions],
                "audit": [asdict(a) for a in self.audit]}


@dataclass(frozen=True)
class ResponsiveItem:
    id: str
    platform: str
    account: str
    kind: str
    author: str
    created_at: str | None
    versions: int
    deleted: bool
    text: str
    found_by: str  # the query that found it, or "item" (named by id)
    search_id: int | None
    withheld: str | None  # the exemption, when withheld
    redactions: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AddResult:
    request_id: str
    added: tuple[str, ...]
    already: tuple[str, ...]
    search_id: int | None
    holds: tuple[str, ...]


def _state(app: App, state: str | None) -> str:
    chosen = state or app.settings.state
    if not chosen:
        raise ConfigError('No state for the deadline: give --state XX, or write state = "WA" in '
                          "archiver.toml (ARCHIVER_STATE)")
    return chosen


def _district(app: App) -> str:
    if not app.settings.district:
        raise ConfigError('The package names the district: write district = "..." in archiver.toml '
                          "(ARCHIVER_DISTRICT), then export again")
    return app.settings.district


def _today(app: App) -> date:
    now = app.clock.now()
    return max(now.date(), now.astimezone().date())


def _calendar(app: App) -> list[CalendarDay]:
    return load_calendar(app.settings.home / FILE_NAME)


def _audit(s: Session, app: App, actor: str, action: str, request_id: str, **details: Any) -> None:
    audit.append(s, actor=actor, action=action, subject=request_id, details=details, at=app.clock.now())


# --- register -------------------------------------------------------------------------------


def open_request(app: App, *, requester: str, received: date, description: str,
                 state: str | None = None, via: str = "", actor: str | None = None) -> RequestView:
    actor = actor or current_actor()
    if not requester.strip():
        raise RequestError("The requester's name is empty; give --requester")
    if not description.strip():
        raise RequestError("The request's description is empty; give --description")
    if via not in VIA:
        raise RequestError(f"--via must be one of {', '.join(v for v in VIA if v)}")
    today = _today(app)
    if received > today:
        raise RequestError(f"The received date {received.isoformat()} is in the future (today is "
                           f"{today.isoformat()}); give the date the request arrived")
    rule = rule_for(_state(app, state))
    d = compute(rule, received, via=via, calendar=_calendar(app))
    now = app.clock.now()
    with app.catalog.session() as s:
        row = RecordsRequest(
            id=register.new_request_id(s, received.year), requester=requester.strip(),
            description=description.strip(), state=rule.state, via=via, received=received,
            legally_received=d.legally_received, first_response_due=d.first_response, due=d.due,
            statutory_due=d.due, due_earliest=d.earliest, due_latest=d.latest, rule=d.rule,
            status="open", opened_at=now, opened_by=actor,
        )
        s.add(row)
        s.flush()
        _audit(s, app, actor, "request.open", row.id, state=rule.state, received=received.isoformat(),
               due=d.due.isoformat(), earliest=d.earliest.isoformat(), latest=d.latest.isoformat(),
               rule=d.rule)
        return register.view(s, row, today)


def list_requests(app: App, *, include_closed: bool = False) -> list[RequestView]:
    """Open requests overdue first, then by due date; closed ones (with --all) after them."""
    today = _today(app)
    with app.catalog.session() as s:
        query = select(RecordsRequest)
        if not include_closed:
            query = query.where(RecordsRequest.status == "open")
        views = register.views(s, list(s.scalars(query)), today)
    return sorted(views, key=lambda v: (v.status != "open", not v.overdue, v.due, v.id))


def show_request(app: App, request_id: str) -> RequestDetail:
    today = _today(app)
    with app.catalog.session() as s:
        row = register.get_request(s, request_id)
        searches = tuple(
            SearchView(x.id, x.query, dict(x.filters or {}), x.results, x.by, x.at.isoformat())
            for x in s.scalars(select(RequestSearch).where(RequestSearch.request_id == row.id)
                               .order_by(RequestSearch.id)))
        decisions = tuple(
            DecisionView(d.item_id, d.action, d.exemption, d.by, d.at.isoformat(),
                         _digest(d.text) if d.text is not None else None)
            for d in s.scalars(select(RequestDecision).where(RequestDecision.request_id == row.id)
                               .order_by(RequestDecision.id)))
        trail = tuple(AuditView(e.at.isoformat(), e.actor, e.action, dict(e.details))
                      for e in audit.entries(s, subject=row.id))
        notes = rule_for(row.state).notes
        return RequestDetail(register.view(s, row, today), notes, searches, decisions, trail)


def extend_request(app: App, request_id: str, *, until: date, reason: str,
                   actor: str | None = None) -> RequestView:
    actor = actor or current_actor()
    if not reason.strip():
        raise RequestError("An extension needs a reason the requester is told; give --reason")
    with app.catalog.session() as s:
        row = register.get_request(s, request_id)
        register.require_open(row)
        rule = rule_for(row.state)
        done = len(list(s.scalars(select(RequestExtension.id).where(RequestExtension.request_id == row.id))))
        if rule.extension_times is not None and done >= rule.extension_times:
            raise RequestError(f"{rule.state} allows {rule.extension_times} extension(s) "
                               f"({rule.extension_citation}); request {row.id} already has {done}")
        if until <= row.due:
            raise RequestError(f"--until {until.isoformat()} is not after the current due date "
                               f"{row.due.isoformat()}; give a later date")
        limit = extension_limit(rule, row.statutory_due, _calendar(app))
        if limit is not None and until > limit:
            raise RequestError(f"{rule.state} allows at most {rule.extension_days} business days more "
                               f"({rule.extension_citation}): the latest is {limit.isoformat()}")
        s.add(RequestExtension(request_id=row.id, until=until, reason=reason.strip(), by=actor,
                               at=app.clock.now()))
        previous, row.due = row.due, until
        _audit(s, app, actor, "request.extend", row.id, previous_due=previous.isoformat(),
               due=until.isoformat(), reason=reason.strip(), citation=rule.extension_citation)
        s.flush()
        return register.view(s, row, _today(app))


def close_request(app: App, request_id: str, *, outcome: str, actor: str | None = None) -> RequestView:
    actor = actor or current_actor()
    if outcome not in OUTCOMES:
        raise RequestError(f"--outcome must be one of {', '.join(OUTCOMES)}")
    with app.catalog.session() as s:
        row = register.get_request(s, request_id)
        register.require_open(row)
        row.status, row.outcome = "closed", outcome
        row.closed_at, row.closed_by = app.clock.now(), actor
        _audit(s, app, actor, "request.close", row.id, outcome=outcome,
               items=len(register.responsive(s, row.id)))
        s.flush()
        result = register.view(s, row, _today(app))
    _release_holds(app, request_id, actor)
    return result


# --- responsive set -------------------------------------------------------------------------


def add_items(app: App, request_id: str, *, query: str | None = None,
              filters: SearchFilters | None = None, items: Sequence[str] = (),
              actor: str | None = None) -> AddResult:
    """Attach items found by a query (recorded with its filters) or named one by one."""
    actor = actor or current_actor()
    if bool(query) == bool(items):
        raise RequestError("Give either --query QUERY or --item ITEM (one or more), not both")
    with app.catalog.session() as s:
        row = register.get_request(s, request_id)
        register.require_open(row)
        search_id = None
        if query:
            result = run_search(s, query, filters, limit=MAX_ADD, rank_limit=MAX_ADD)
            if not result.ranked or result.total > MAX_ADD:
                raise RequestError(f"The query matches more than {MAX_ADD:,} items; "
                                   "narrow it with words or filters")
            found = [(h.platform, h.id) for h in result.hits]
            record = RequestSearch(request_id=row.id, query=query,
                                   filters=(filters or SearchFilters()).as_dict(),
                                   results=result.total, by=actor, at=app.clock.now())
            s.add(record)
            s.flush()
            search_id = record.id
            _audit(s, app, actor, "request.search", row.id, query=query,
                   filters=(filters or SearchFilters()).as_dict(), results=result.total,
                   search_id=search_id)
        else:
            found = [(i.platform, i.item_id) for i in (register.find_item(s, ref) for ref in items)]
        have = {(r.platform, r.item_id) for r in register.responsive(s, row.id)}
        added, already, to_hold = [], [], []
        for platform, item_id in dict.fromkeys(found):
            if (platform, item_id) in have:
                already.append(item_id)
                continue
            s.add(RequestItem(request_id=row.id, platform=platform, item_id=item_id,
                              search_id=search_id, added_by=actor, added_at=app.clock.now()))
            added.append(item_id)
            to_hold.append(f"{platform}:{item_id}")
        _audit(s, app, actor, "request.add", row.id, items=added, search_id=search_id)
    holds = _place_hold(app, request_id, to_hold, actor) if to_hold else ()
    return AddResult(request_id, tuple(added), tuple(already), search_id, holds)


def request_items(app: App, request_id: str) -> list[ResponsiveItem]:
    with app.catalog.session() as s:
        row = register.get_request(s, request_id)
        state = replay(register.decisions(s, row.id))
        searches = {x.id: x.query for x in s.scalars(select(RequestSearch).where(RequestSearch.request_id == row.id))}
        withheld = {w.item_id: w.exemption for w in state.withheld}
        redactions: dict[str, int] = {}
        for r in state.redactions:
            redactions[r.item_id] = redactions.get(r.item_id, 0) + 1
        links = register.responsive(s, row.id)
        found = _items_by_key(s, [(link.platform, link.item_id) for link in links])
        accounts = {a.id: a for a in s.scalars(select(t.Account).where(
            t.Account.id.in_({i.account_pk for i in found.values()})))} if found else {}
        out = []
        for link in links:
            item = found.get((link.platform, link.item_id))
            if item is None:  # disposed of, or not yet rebuilt
                continue
            account = accounts.get(item.account_pk)
            latest = item.versions[-1] if item.versions else None
            out.append(ResponsiveItem(
                id=item.item_id, platform=item.platform,
                account=f"{account.platform}:{account.account_id}" if account else "",
                kind=item.kind, author=latest.author if latest else "",
                created_at=item.created_at.isoformat() if item.created_at else None,
                versions=len(item.versions), deleted=item.deleted_at is not None,
                text=latest.text if latest else "",
                found_by=searches.get(link.search_id or -1, "item"), search_id=link.search_id,
                withheld=withheld.get(item.item_id), redactions=redactions.get(item.item_id, 0)))
        return out


def _items_by_key(s: Session, keys: Sequence[tuple[str, str]], chunk: int = 500) -> dict[tuple[str, str], t.Item]:
    """Items by (platform, item_id) with their versions, a few queries per `chunk` items (the
    request page lists every responsive item: one query each would not scale)."""
    out: dict[tuple[str, str], t.Item] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), chunk):
        part = unique[start:start + chunk]
        query = (select(t.Item).where(tuple_(t.Item.platform, t.Item.item_id).in_(part))
                 .options(selectinload(t.Item.versions)))
        out.update({(i.platform, i.item_id): i for i in s.scalars(query)})
    return out


# --- review and decisions -------------------------------------------------------------------


def review(app: App, request_id: str, *, roster: Path | None = None,
           actor: str | None = None) -> list[Finding]:
    """Candidate personal information in every version of every responsive item."""
    actor = actor or current_actor()
    names = load_roster(roster) if roster else None
    with app.catalog.session() as s:
        row = register.get_request(s, request_id)
        findings: list[Finding] = []
        links = register.responsive(s, row.id)
        found = _items_by_key(s, [(link.platform, link.item_id) for link in links])
        for link in links:
            item = found.get((link.platform, link.item_id))
            for version in item.versions if item else []:
                findings.extend(scan(item.item_id, version.version_no, version.text or "", names))  # type: ignore[union-attr]
        kinds: dict[str, int] = {}
        for f in findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        _audit(s, app, actor, "request.review", row.id, findings=kinds, roster=bool(roster))
    return findings


def _decide(app: App, request_id: str, item_ref: str, action: str, *, text: str | None,
            exemption: str, actor: str | None) -> ReviewState:
    actor = actor or current_actor()
    with app.catalog.session() as s:
        row = register.get_request(s, request_id)
        register.require_open(row)
        item = register.require_responsive(s, row.id, item_ref)
        current = replay(register.decisions(s, row.id))
        if action == "redact":
            if not text:
                raise RequestError("--text is empty; give the exact words to redact")
            if not any(text in (v.text or "") for v in item.versions):
                raise RequestError(f"The text to redact does not appear in item {item.item_id}; "
                                   "copy it exactly as 'archiver items show' prints it")
        if action == "release":
            if text is None and item.item_id not in {w.item_id for w in current.withheld}:
                raise RequestError(f"Item {item.item_id} is not withheld; nothing to release "
                                   "(give --text to lift a redaction)")
            if text is not None and (item.item_id, text) not in {(r.item_id, r.text) for r in current.redactions}:
                raise RequestError(f"Item {item.item_id} has no redaction of that text; see 'archiver requests show {row.id}'")
        s.add(RequestDecision(request_id=row.id, platform=item.platform, item_id=item.item_id,
                              action=action, text=text, exemption=exemption, by=actor,
                              at=app.clock.now()))
        details: dict[str, Any] = {"item": item.item_id, "exemption": exemption}
        if text is not None:
            details["text_sha256"] = _digest(text)
            details["text_chars"] = len(text)
        _audit(s, app, actor, f"request.{action}", row.id, **details)
        s.flush()
        return replay(register.decisions(s, row.id))


def _exemption(exemption: str) -> str:
    if not exemption.strip():
        raise RequestError("--exemption is empty; cite the statute, e.g. \"RCW 42.56.230(1)\"")
    return exemption.strip()


def redact(app: App, request_id: str, *, item: str, text: str, exemption: str,
           actor: str | None = None) -> ReviewState:
    return _decide(app, request_id, item, "redact", text=text, exemption=_exemption(exemption), actor=actor)


def withhold(app: App, request_id: str, *, item: str, exemption: str, actor: str | None = None) -> ReviewState:
    return _decide(app, request_id, item, "withhold", text=None, exemption=_exemption(exemption), actor=actor)


def release(app: App, request_id: str, *, item: str, text: str | None = None,
            actor: str | None = None) -> ReviewState:
    return _decide(app, request_id, item, "release", text=text, exemption="", actor=actor)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- export ---------------------------------------------------------------------------------


def export_model(app: App, request_id: str) -> ExportRequest:
    """What the package builder needs, with only the decisions in force."""
    with app.catalog.session() as s:
        row = register.get_request(s, request_id)
        state = replay(register.decisions(s, row.id))
        searches = tuple(
            f"{x.query} {x.filters}" if x.filters else x.query
            for x in s.scalars(select(RequestSearch).where(RequestSearch.request_id == row.id)
                               .order_by(RequestSearch.id)))
        return ExportRequest(
            request_id=row.id, requester=row.requester, received=row.received, due=row.due,
            description=row.description, state=row.state, district=_district(app),
            item_ids=tuple(link.item_id for link in register.responsive(s, row.id)),
            redactions=state.redactions, withheld=state.withheld, searches=searches)


def export_request(app: App, request_id: str, out_dir: Path, *,
                   progress: Callable[[int, int], None] | None = None,
                   actor: str | None = None) -> Any:
    actor = actor or current_actor()
    req = export_model(app, request_id)
    if not req.item_ids:
        raise RequestError(f"Request {req.request_id} has no responsive items; add them with "
                           f"'archiver requests add {req.request_id} --query ...'")
    try:  # the export helper's package builder (archiver/requests/package/)
        builder = importlib.import_module("archiver.requests.package.build")
    except ImportError as exc:
        raise RequestError("This build has no export package builder (archiver.requests.package.build)") from exc
    summary = builder.build_package(app, req, out_dir, progress=progress)
    details = asdict(summary) if is_dataclass(summary) and not isinstance(summary, type) else {}
    with app.catalog.session() as s:
        _audit(s, app, actor, "request.export", req.request_id, out=str(out_dir),
               items=len(req.item_ids), withheld=len(req.withheld),
               redactions=len(req.redactions), summary=details)
    return summary


# --- holds (retention) -----------------------------------------------------------------------


def _place_hold(app: App, request_id: str, item_keys: Sequence[str], actor: str) -> tuple[str, ...]:
    """Hold the newly responsive items (platform:item_id) while the request is open: nothing
    responsive may be destroyed before the request is answered (and any appeal is over)."""
    from archiver.services import holds

    hold = holds.add_hold(app, reason=f"public records request {request_id}", kind="request",
                          request_id=request_id, item_ids=list(item_keys), actor=actor)
    with app.catalog.session() as s:
        s.add(RequestHold(request_id=request_id, hold_id=str(hold.id), placed_at=app.clock.now()))
    return (str(hold.id),)


def _release_holds(app: App, request_id: str, actor: str) -> None:
    from archiver.services import holds

    with app.catalog.session() as s:
        open_holds = [(h.id, h.hold_id) for h in s.scalars(
            select(RequestHold).where(RequestHold.request_id == request_id,
                                      RequestHold.released_at.is_(None)))]
    for pk, hold_id in open_holds:
        holds.release_hold(app, int(hold_id), reason=f"request {request_id} closed", actor=actor)
        with app.catalog.session() as s:
            row = s.get(RequestHold, pk)
            if row is not None:
                row.released_at = app.clock.now()


