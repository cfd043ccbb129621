"""The request register: ids, lookups and read views over the catalog's request tables.

Functions take an open session; the use cases in services/requests.py own the transactions,
the audit entries and the holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.catalog import tables as t
from archiver.catalog.request_tables import (
    RecordsRequest,
    RequestDecision,
    RequestExtension,
    RequestItem,
)
from archiver.core.errors import RequestError
from archiver.requests.review import DecisionRow

OUTCOMES = ("released", "partially-released", "denied", "withdrawn", "no-records")
VIA = ("", "email", "fax", "mail", "in-person", "web", "phone")


@dataclass(frozen=True)
class ExtensionView:
    until: str
    reason: str
    by: str
    at: str


@dataclass(frozen=True)
class RequestView:
    id: str
    requester: str
    description: str
    state: str
    via: str
    received: str
    legally_received: str
    first_response_due: str
    due: str
    statutory_due: str
    due_earliest: str
    due_latest: str
    rule: str
    status: str
    outcome: str | None
    opened_at: str
    opened_by: str
    closed_at: str | None
    closed_by: str | None
    overdue: bool
    days_left: int
    items: int
    extensions: tuple[ExtensionView, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_request_id(session: Session, year: int) -> str:
    prefix = f"PRR-{year}-"
    latest = session.scalar(
        select(func.max(RecordsRequest.id)).where(RecordsRequest.id.startswith(prefix))
    )
    number = int(latest.rsplit("-", 1)[1]) + 1 if latest else 1
    return f"{prefix}{number:04d}"


def get_request(session: Session, request_id: str) -> RecordsRequest:
    row = session.get(RecordsRequest, request_id.strip())
    if row is None:
        raise RequestError(f"No request has the id '{request_id}'; see 'archiver requests list --all'")
    return row


def require_open(row: RecordsRequest) -> None:
    if row.status != "open":
        raise RequestError(f"Request {row.id} is closed ({row.outcome}); open a new request to do more")


def view(session: Session, row: RecordsRequest, today: date) -> RequestView:
    return views(session, [row], today)[0]


def views(session: Session, rows: list[RecordsRequest], today: date) -> list[RequestView]:
    """Views of many requests in three queries whatever their number (the request list and
    the console's dashboard show every open one)."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    extensions: dict[str, list[ExtensionView]] = {}
    for e in session.scalars(select(RequestExtension).where(RequestExtension.request_id.in_(ids))
                             .order_by(RequestExtension.id)):
        extensions.setdefault(e.request_id, []).append(
            ExtensionView(e.until.isoformat(), e.reason, e.by, e.at.isoformat()))
    counts = dict(session.execute(select(RequestItem.request_id, func.count())
                                  .where(RequestItem.request_id.in_(ids)).group_by(RequestItem.request_id)).all())
    return [RequestView(
        id=row.id, requester=row.requester, description=row.description, state=row.state,
        via=row.via, received=row.received.isoformat(),
        legally_received=row.legally_received.isoformat(),
        first_response_due=row.first_response_due.isoformat(), due=row.due.isoformat(),
        statutory_due=row.statutory_due.isoformat(), due_earliest=row.due_earliest.isoformat(),
        due_latest=row.due_latest.isoformat(), rule=row.rule, status=row.status,
        outcome=row.outcome, opened_at=row.opened_at.isoformat(), opened_by=row.opened_by,
        closed_at=row.closed_at.isoformat() if row.closed_at else None, closed_by=row.closed_by,
        overdue=row.status == "open" and today > row.due, days_left=(row.due - today).days,
        items=int(counts.get(row.id, 0)), extensions=tuple(extensions.get(row.id, ())),
    ) for row in rows]


def find_item(session: Session, ref: str) -> t.Item:
    """An item by its id, or by platform:id where two platforms share an id."""
    ref = ref.strip()
    # platform IN (...) lets the unique (platform, item_id) index answer; item_id alone has no
    # index, and 100 lookups read a 1,000,000-item catalog 100 times (2 minutes).
    platforms = sorted(set(session.scalars(select(t.Account.platform).distinct())))
    rows = list(session.scalars(select(t.Item).where(t.Item.platform.in_(platforms), t.Item.item_id == ref)))
    if not rows and ":" in ref:
        platform, item_id = ref.split(":", 1)
        rows = list(session.scalars(select(t.Item).where(t.Item.platform == platform,
                                                         t.Item.item_id == item_id)))
    if not rows:
        raise RequestError(f"No captured item has the id '{ref}'; see 'archiver search' or 'archiver items list'")
    if len(rows) > 1:
        raise RequestError(f"Several platforms have an item '{ref}'; name it as platform:{ref}")
    return rows[0]


def responsive(session: Session, request_id: str) -> list[RequestItem]:
    return list(session.scalars(select(RequestItem).where(RequestItem.request_id == request_id)
                                .order_by(RequestItem.id)))


def require_responsive(session: Session, request_id: str, ref: str) -> t.Item:
    item = find_item(session, ref)
    found = session.scalar(select(RequestItem.id).where(
        RequestItem.request_id == request_id, RequestItem.platform == item.platform,
        RequestItem.item_id == item.item_id))
    if found is None:
        raise RequestError(f"Item {item.item_id} is not in request {request_id}; "
                           f"add it with 'archiver requests add {request_id} --item {item.item_id}'")
    return item


def decisions(session: Session, request_id: str) -> list[DecisionRow]:
    return [DecisionRow(d.item_id, d.action, d.text, d.exemption, d.by, d.at)
            for d in session.scalars(select(RequestDecision).where(RequestDecision.request_id == request_id)
                                     .order_by(RequestDecision.id))]

