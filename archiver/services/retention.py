"""Use cases for disposition: classify, plan, apply (destroy with a signed certificate), and
what the archive holds for one item.

Apply never half-destroys: an object is deleted from the store first (every version, its key
sidecars), then one catalog transaction removes the items whose records are all gone, keeps a
minimal disposition row per item, deletes the wrapped data keys and records the certificate.
If the store refuses an object (Object Lock not expired, legal hold), nothing about it or its
items changes and the certificate does not list it; a re-run finishes whatever is left.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.catalog.payloads import forget_files
from archiver.core.errors import (
    ArchiverError,
    ConfigError,
    ObjectLocked,
    RetentionError,
    StorageError,
)
from archiver.retention.active import load_effective, series_blockers, verified_keys
from archiver.retention.certificates import (
    DestroyedItem,
    DestroyedObject,
    build_body,
    canonical,
    envelope,
    render_html,
)
from archiver.retention.classify import classify_items
from archiver.retention.disposition import Plan, make_plan
from archiver.storage.base import NoSuchObject

FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class ApplyResult:
    certificate_id: str | None
    destroyed_objects: list[str]
    destroyed_items: int
    refused: list[tuple[str, str]]  # (object, why the store refused)
    transfer_pending: list[str]  # eligible for transfer to archives: not destroyed
    json_path: str | None = None
    html_path: str | None = None


@dataclass(frozen=True)
class CertificateSummary:
    id: str
    issued_at: datetime
    approver: str
    items: int
    objects: int
    signed: bool
    json_path: str
    html_path: str


@dataclass(frozen=True)
class ItemRetentionView:
    platform: str
    item_id: str
    series: str | None
    series_title: str | None
    rule: str
    flagged: bool
    retain_until: datetime | None
    waits_for: str
    status: str
    reasons: list[str]
    citations: list[str] = field(default_factory=list)
    disposed: dict | None = None


def certificates_dir(app: App) -> Path:
    return app.settings.home / "certificates"


def reclassify(app: App) -> int:
    """Bring every item's series and retain-until up to date (role or schedule changes)."""
    with app.catalog.session() as s:
        return classify_items(s, load_effective(s, app.settings.state), app.clock.now())


def citations(session: object, effective: object) -> dict[str, list[str]]:
    from archiver.retention.schedules import Effective

    assert isinstance(effective, Effective)
    rows = session.scalars(select(rt.SeriesVerification)  # type: ignore[attr-defined]
                           .where(rt.SeriesVerification.state == effective.state)
                           .order_by(rt.SeriesVerification.id))
    verified = verified_keys(session, effective)  # type: ignore[arg-type]
    out: dict[str, list[str]] = {s.key: list(s.sources) for s in effective.series}
    for r in rows:
        if r.series in verified and r.series in out:
            out[r.series].append(f"verified by {r.verified_by} on {r.verified_at:%Y-%m-%d} against: {r.citation}")
    return out


def plan(app: App, *, as_of: datetime | None = None, actor: str | None = None) -> Plan:
    """The disposition plan on `as_of` (default now; a future date previews). Recorded in the
    audit log when `actor` is given."""
    when = as_of or app.clock.now()
    with app.catalog.session() as s:
        effective = load_effective(s, app.settings.state)
        classify_items(s, effective, app.clock.now())
        result = make_plan(s, effective, series_blockers(s, effective), when)
        if actor:
            audit.append(s, actor=actor, action="retention.plan", subject=f"schedule:{effective.state}",
                         at=app.clock.now(), details={"as_of": when, **result.by_status(),
                                                      "eligible_objects": len(result.eligible_objects())})
    return result


def apply(app: App, *, approver: str, actor: str, as_of: datetime | None = None,
          allow_future: bool = False) -> ApplyResult:
    """Destroy what the plan makes eligible on `as_of`, and certify it."""
    if not approver.strip():
        raise ConfigError("Disposition needs --approve NAME: the records officer who approves it")
    now = app.clock.now()
    when = as_of or now
    if when > now + FUTURE_SLACK and not allow_future:
        raise RetentionError(f"Refusing to destroy as of {when:%Y-%m-%d}, a future date; preview it with "
                             "'archiver retention plan --as-of' instead")
    from archiver.vault.signing import load_signer

    signer = load_signer(app.settings, app.keys)  # before anything is destroyed: no unsigned certificate
    district = app.settings.district
    if not district:
        raise ConfigError('A destruction certificate names the district; write district = "..." in '
                          "archiver.toml (ARCHIVER_DISTRICT), then apply again")
    the_plan = plan(app, as_of=when)
    destroyed: list[DestroyedObject] = []
    refused: list[tuple[str, str]] = []
    with app.catalog.session() as s:
        rows = {w.name: w for w in s.scalars(select(t.WarcFile))}
    for obj in the_plan.eligible_objects("destroy"):
        row = rows[obj.name]
        try:
            _destroy_object(app, obj.store_key)
        except (ObjectLocked, StorageError) as exc:
            refused.append((obj.name, exc.message))
            continue
        destroyed.append(DestroyedObject(obj.name, obj.store_key, row.sha256, row.object_sha256,
                                         row.object_size, row.key_id))
    transfer = build_transfer_package(app, the_plan, approver=approver.strip(), actor=actor, signer=signer)
    if not destroyed:
        if refused:
            _audit_refusals(app, actor, approver, when, refused)
        return ApplyResult(None, [], 0, refused, transfer)
    gone = {o.name for o in destroyed}
    cert_id = f"{now:%Y%m%d}-{uuid.uuid4().hex[:12]}"
    items: list[DestroyedItem] = []
    with app.catalog.session() as s:
        effective = load_effective(s, app.settings.state)
        for v in the_plan.items:
            earlier = set(v.objects) - set(rows)  # destroyed by a run that did not finish its items
            if v.status != "eligible" or v.action != "destroy" or not set(v.objects) <= gone | earlier:
                continue
            assert v.series is not None and v.retain_until is not None
            items.append(DestroyedItem(v.platform, v.item_id, v.account, v.kind, v.series, v.created_at,
                                       v.deleted_at, v.retain_until))
            s.add(rt.Disposition(platform=v.platform, item_id=v.item_id, account=v.account, kind=v.kind,
                                 state=effective.state, series=v.series, created_at=v.created_at,
                                 deleted_at=v.deleted_at, retain_until=v.retain_until, disposed_at=now,
                                 action="destroyed", certificate_id=cert_id, objects=sorted(v.objects)))
            _remove_item(s, v.pk)
        for model, column in ((t.MediaCapture, t.MediaCapture.warc_file),
                              (t.CaptureWarning, t.CaptureWarning.warc_file),
                              (rt.ObjectRetention, rt.ObjectRetention.warc_name),
                              (t.WarcFile, t.WarcFile.name)):  # the catalog's wrapped data keys go here
            s.execute(delete(model).where(column.in_(sorted(gone))))
        forget_files(s, gone)  # no revisit may refer to a destroyed record
        body = build_body(cert_id=cert_id, issued_at=now, as_of=when, approver=approver.strip(), actor=actor,
                          district=district, effective=effective, citations=citations(s, effective),
                          items=items, objects=destroyed)
        signature = signer.sign(canonical(body))
        doc = envelope(body, signature, signer.key_id, signer.public_key_pem)
        s.add(rt.DestructionCertificate(
            id=cert_id, issued_at=now, as_of=when, approver=approver.strip(), actor=actor, items=len(items),
            objects=len(destroyed), body=canonical(body).decode(), signature=doc["signature"]["value"],
            key_id=signer.key_id, public_key_pem=signer.public_key_pem.decode("ascii")))
        audit.append(s, actor=actor, action="retention.apply", subject=f"certificate:{cert_id}", at=now,
                     details={"approved_by": approver.strip(), "as_of": when, "objects": sorted(gone),
                              "items": len(items), "refused": [n for n, _ in refused],
                              "series": sorted({i.series for i in items})})
        audit.append(s, actor=actor, action="certificate.issue", subject=f"certificate:{cert_id}", at=now,
                     details={"key_id": signer.key_id, "items": len(items), "objects": len(destroyed)})
    json_path, html_path = write_certificate_files(app, cert_id, doc)
    return ApplyResult(cert_id, sorted(gone), len(items), refused, transfer, str(json_path), str(html_path))


def build_transfer_package(app: App, the_plan: Plan, *, approver: str, actor: str, signer: object) -> list[str]:
    """Objects eligible for transfer to the state archives: their plaintext WARCs and a signed
    manifest under HOME/transfers/ID/. Nothing is destroyed: the district keeps its copy until
    the archives confirm receipt. An object already packaged (audit log) is not packaged again."""
    import hashlib
    import json

    from archiver.preservation.reading import iter_plaintext, stored_warc

    objects = the_plan.eligible_objects("transfer")
    if not objects:
        return []
    with app.catalog.session() as s:
        done = {e.subject.removeprefix("object:") for e in audit.entries(s, action_prefix="retention.transfer")}
    todo = [o for o in objects if o.name not in done]
    if not todo:
        return [o.name for o in objects]
    now = app.clock.now()
    package_id = f"{now:%Y%m%d}-{uuid.uuid4().hex[:12]}"
    folder = app.settings.home / "transfers" / package_id
    partial = folder.with_name(f".{package_id}.partial")
    partial.mkdir(parents=True, exist_ok=True)
    listed = []
    for o in todo:
        digest = hashlib.sha256()
        with open(partial / o.name, "wb") as fh:
            for chunk in iter_plaintext(app.store, app.keys, stored_warc(app.catalog, o.name)):
                digest.update(chunk)
                fh.write(chunk)
        items = [f"{v.platform}:{v.item_id}" for v in the_plan.items if o.name in v.objects]
        series = sorted({v.series for v in the_plan.items if o.name in v.objects and v.series})
        listed.append({"file": o.name, "sha256": digest.hexdigest(), "items": items, "series": series})
    body = {"format": "archiver-transfer-package", "version": 1, "id": package_id, "created": now.isoformat(),
            "district": app.settings.district, "state": the_plan.state, "approved_by": approver,
            "prepared_by": actor, "objects": listed}
    data = canonical(body)
    signature = signer.sign(data)  # type: ignore[attr-defined]
    doc = envelope(body, signature, signer.key_id, signer.public_key_pem, "manifest")  # type: ignore[attr-defined]
    (partial / "manifest.json").write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(partial, folder)
    with app.catalog.session() as s:
        for entry in listed:
            audit.append(s, actor=actor, action="retention.transfer", subject=f"object:{entry['file']}", at=now,
                         details={"package": package_id, "sha256": entry["sha256"], "items": len(entry["items"]),
                                  "series": entry["series"], "approved_by": approver})
    return [o.name for o in objects]


def _destroy_object(app: App, key: str) -> None:
    """Crypto-shredding: every wrapped copy of the object's data key goes with it. The key
    sidecars written by rotations (preservation/wrapped_keys.py) go first, so a store that
    refuses one leaves the object whole for the next run instead of half-shredded; then the
    object itself (every version, and its header's wrap). Already gone is fine: a run that
    died after a delete is finished by the next one. The catalog's copy goes in the caller's
    transaction."""
    from archiver.preservation.wrapped_keys import sidecar_keys

    for sidecar in sidecar_keys(app.store, key):
        with contextlib.suppress(NoSuchObject):
            app.store.delete(sidecar)
    with contextlib.suppress(NoSuchObject):
        app.store.delete(key)


def _remove_item(session: Session, pk: int) -> None:
    """The item's text leaves the catalog and the search index; its disposition row stays."""
    from archiver.catalog.search_tables import SearchDoc

    versions = select(t.ItemVersion.id).where(t.ItemVersion.item_pk == pk).scalar_subquery()
    session.execute(delete(SearchDoc).where(SearchDoc.version_pk.in_(versions)))
    for model, column in ((rt.ItemRetention, rt.ItemRetention.item_pk), (t.Observation, t.Observation.item_pk),
                          (t.Tombstone, t.Tombstone.item_pk), (t.ItemVersion, t.ItemVersion.item_pk),
                          (t.Item, t.Item.id)):
        session.execute(delete(model).where(column == pk))


def _audit_refusals(app: App, actor: str, approver: str, when: datetime, refused: list[tuple[str, str]]) -> None:
    with app.catalog.session() as s:
        audit.append(s, actor=actor, action="retention.apply", subject="store-refused", at=app.clock.now(),
                     details={"approved_by": approver, "as_of": when, "destroyed": [],
                              "refused": [{"object": n, "why": why} for n, why in refused]})


def write_certificate_files(app: App, cert_id: str, doc: dict) -> tuple[Path, Path]:
    import json

    folder = certificates_dir(app)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in ((".json", json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)),
                         (".html", render_html(doc))):
        path = folder / f"{cert_id}{suffix}"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        paths.append(path)
    return paths[0], paths[1]


def list_certificates(app: App) -> list[CertificateSummary]:
    folder = certificates_dir(app)
    with app.catalog.session() as s:
        rows = list(s.scalars(select(rt.DestructionCertificate).order_by(rt.DestructionCertificate.issued_at)))
    return [CertificateSummary(r.id, r.issued_at, r.approver, r.items, r.objects, bool(r.signature),
                               str(folder / f"{r.id}.json"), str(folder / f"{r.id}.html")) for r in rows]


def certificate_document(app: App, cert_id: str) -> dict:
    """The signed certificate as stored in the catalog (the files can be re-written from it)."""
    import json

    with app.catalog.session() as s:
        row = s.get(rt.DestructionCertificate, cert_id)
        if row is None:
            raise RetentionError(f"No certificate {cert_id!r}; see 'archiver retention certificates'")
        body = json.loads(row.body)
        import base64

        return envelope(body, base64.b64decode(row.signature), row.key_id, row.public_key_pem.encode("ascii"))


def item_retention(app: App, item_id: str, *, as_of: datetime | None = None) -> ItemRetentionView:
    """For `items show`: series, the rule that chose it, retain-until, and what it waits for."""
    platform, sep, rest = item_id.partition(":")
    the_plan = plan(app, as_of=as_of)
    for v in the_plan.items:
        if v.item_id == item_id or (sep and v.platform == platform and v.item_id == rest):
            with app.catalog.session() as s:
                ret = s.get(rt.ItemRetention, v.pk)
                effective = load_effective(s, app.settings.state)
                cites = citations(s, effective).get(v.series or "", [])
            series = effective.get(v.series) if v.series else None
            return ItemRetentionView(v.platform, v.item_id, v.series, series.title if series else None,
                                     ret.rule if ret else "", bool(ret and ret.flagged), v.retain_until,
                                     ret.waits_for if ret else "", v.status, list(v.reasons), cites)
    with app.catalog.session() as s:
        gone = s.scalar(select(rt.Disposition).where(rt.Disposition.item_id == (rest if sep else item_id)))
        if gone is not None:
            return ItemRetentionView(gone.platform, gone.item_id, gone.series, None, "", False, gone.retain_until,
                                     "", "destroyed", [f"destroyed {gone.disposed_at:%Y-%m-%d}, certificate "
                                                       f"{gone.certificate_id}"],
                                     disposed={"certificate": gone.certificate_id,
                                               "disposed_at": gone.disposed_at.isoformat()})
    raise ConfigError(f"No item {item_id!r}; see 'archiver items list'")


@dataclass(frozen=True)
class ComingDue:
    """An item among the next to reach its retain-until date, and what would stop it."""

    platform: str
    item_id: str
    account: str
    kind: str
    series: str | None
    retain_until: datetime
    held: bool
    blockers: list[str]  # why its series cannot dispose automatically (empty: it can)


def coming_due(app: App, *, limit: int = 10) -> list[ComingDue]:
    """The `limit` items whose retain-until comes first (past dates included), for the
    dashboard: a handful of queries whatever the size of the archive, unlike `plan`, which
    weighs every item. Whether an item is finally destroyed is still the plan's decision
    (an object shared with records kept longer stays); this says what comes up next and
    what holds it back."""
    from archiver.retention.holds import active_holds, covers

    with app.catalog.session() as s:
        rows = s.execute(
            select(t.Item.platform, t.Item.item_id, t.Item.kind, t.Item.created_at, t.Item.first_seen_at,
                   t.Account.platform, t.Account.account_id, rt.ItemRetention.series, rt.ItemRetention.retain_until)
            .join(t.Item, t.Item.id == rt.ItemRetention.item_pk)
            .join(t.Account, t.Account.id == t.Item.account_pk)
            .where(rt.ItemRetention.retain_until.is_not(None))
            .order_by(rt.ItemRetention.retain_until, rt.ItemRetention.item_pk)
            .limit(limit)).all()
        if not rows:
            return []
        holds = active_holds(s)
        named: set[tuple[int, str, str]] = set()
        names_any: set[int] = set()
        if holds:
            keys = {(r[0], r[1]) for r in rows}
            for hid, platform, item_id in s.execute(
                    select(rt.HoldItem.hold_id, rt.HoldItem.platform, rt.HoldItem.item_id)
                    .where(rt.HoldItem.hold_id.in_([h.id for h in holds]),
                           rt.HoldItem.item_id.in_([k[1] for k in keys]))):
                if (platform, item_id) in keys:
                    named.add((hid, platform, item_id))
            names_any = set(s.scalars(select(rt.HoldItem.hold_id).where(
                rt.HoldItem.hold_id.in_([h.id for h in holds])).distinct()))
        try:
            blocked = series_blockers(s, load_effective(s, app.settings.state))
        except ArchiverError as exc:  # no state set, or an invalid adopted file: nothing disposes
            blocked = {}
            no_schedule = [exc.message]
        else:
            no_schedule = []
    out = []
    for platform, item_id, kind, created, first_seen, a_platform, a_id, series, until in rows:
        label = f"{a_platform}:{a_id}"
        held = any(covers(h, account=label, when=created or first_seen, named=(h.id, platform, item_id) in named,
                          names_any=h.id in names_any) for h in holds)
        reasons = no_schedule or (blocked.get(series, ["no series in force"]) if series else ["no series"])
        assert until is not None  # the query's condition
        out.append(ComingDue(platform, item_id, label, kind, series, until, held, list(reasons)))
    return out


@dataclass(frozen=True)
class HoldInForce:
    """An active hold as the dashboard lists it: what it is, not how many items it covers
    (counting walks a hold's whole scope; `services.holds.list_holds` does that for /holds)."""

    id: int
    kind: str
    reason: str
    request_id: str | None
    account: str | None
    created_at: datetime


def holds_in_force(app: App) -> list[HoldInForce]:
    """Every active hold, in one query."""
    from archiver.retention.holds import active_holds

    with app.catalog.session() as s:
        return [HoldInForce(h.id, h.kind, h.reason, h.request_id, h.account, h.created_at)
                for h in active_holds(s)]
