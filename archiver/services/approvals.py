"""Destruction with two people: one records officer proposes the disposition plan, another
confirms it, and only the confirmation destroys (through services.retention.apply).

The CLI's `retention apply --approve NAME` trusts the operator to name the approver; the web
console has real users, so it can insist that the second person is someone else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog.console_tables import DispositionApproval
from archiver.core.errors import RetentionError
from archiver.services import retention


@dataclass(frozen=True)
class ApprovalView:
    id: int
    as_of: datetime
    objects: int
    proposed_by: str
    proposed_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    certificate_id: str | None


def _view(r: DispositionApproval) -> ApprovalView:
    return ApprovalView(r.id, r.as_of, r.objects, r.proposed_by, r.proposed_at, r.status, r.decided_by,
                        r.decided_at, r.certificate_id)


def propose(app: App, *, actor: str) -> ApprovalView:
    """Propose destroying what today's plan makes eligible; nothing is destroyed yet."""
    the_plan = retention.plan(app, actor=actor)
    eligible = len(the_plan.eligible_objects("destroy"))
    if not eligible:
        raise RetentionError("Nothing is eligible for destruction today; there is nothing to propose")
    now = app.clock.now()
    with app.catalog.session() as s:
        row = DispositionApproval(as_of=now, objects=eligible, proposed_by=actor, proposed_at=now,
                                  status="proposed")
        s.add(row)
        s.flush()
        audit.append(s, actor=actor, action="retention.propose", subject=f"approval:{row.id}", at=now,
                     details={"objects": eligible})
        return _view(row)


def list_approvals(app: App) -> list[ApprovalView]:
    with app.catalog.session() as s:
        return [_view(r) for r in s.scalars(select(DispositionApproval)
                                            .order_by(DispositionApproval.id.desc()).limit(50))]


def _pending(app: App, approval_id: int) -> DispositionApproval:
    with app.catalog.session() as s:
        row = s.get(DispositionApproval, approval_id)
        if row is None or row.status != "proposed":
            raise RetentionError(f"No open proposal {approval_id}; see the retention page")
        s.expunge(row)
        return row


def confirm(app: App, approval_id: int, *, actor: str) -> retention.ApplyResult:
    """The second officer's confirmation: destroy and certify. The proposer cannot confirm."""
    row = _pending(app, approval_id)
    if row.proposed_by == actor:
        raise RetentionError("Destruction needs a second records officer: you proposed it, so "
                             "another officer must confirm it")
    result = retention.apply(app, approver=f"{actor} (proposed by {row.proposed_by})", actor=actor)
    with app.catalog.session() as s:
        live = s.get(DispositionApproval, approval_id)
        assert live is not None
        live.status, live.decided_by, live.decided_at = "done", actor, app.clock.now()
        live.certificate_id = result.certificate_id
        audit.append(s, actor=actor, action="retention.confirm", subject=f"approval:{approval_id}",
                     at=app.clock.now(), details={"proposed_by": row.proposed_by,
                                                  "certificate": result.certificate_id})
    return result


def cancel(app: App, approval_id: int, *, actor: str) -> None:
    _pending(app, approval_id)
    with app.catalog.session() as s:
        live = s.get(DispositionApproval, approval_id)
        assert live is not None
        live.status, live.decided_by, live.decided_at = "cancelled", actor, app.clock.now()
        audit.append(s, actor=actor, action="retention.cancel", subject=f"approval:{approval_id}",
                     at=app.clock.now())
