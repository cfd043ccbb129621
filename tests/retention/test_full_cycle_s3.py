"""The whole retention cycle on S3 (moto server mode) with Object Lock and KMS.

Capture two accounts three years ago (injected clock), delete everything upstream, put one
account under a litigation hold, verify the series, let time pass, plan, apply: the free
account's objects and keys are gone with a signed certificate, the held account's objects are
intact under legal hold, a store refusal is finished by a re-run, and `catalog rebuild`
agrees with the catalog afterwards.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

import archiver.sandbox.kit as sandbox_clock
import connectors.facebook.sandbox as fb
from archiver.catalog import audit
from archiver.catalog import retention_tables as rt
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.clock import ManualClock
from archiver.core.errors import RetentionError
from archiver.preservation.rebuild import rebuild
from archiver.services.accounts import register_account
from archiver.services.holds import add_hold
from archiver.services.keys import init_export_key
from archiver.services.retention import apply, list_certificates, plan
from archiver.services.schedules import verify_series
from archiver.vault.signing import verify_signature
from tests.harness import Harness
from tests.moto_fixtures import (  # noqa: F401 - pytest fixtures
    REGION,
    aws_env,
    kms,
    kms_key,
    lock_bucket,
    moto_url,
    s3,
)

PREFIX = "district-archive"
REAL_NOW = datetime.now(UTC).replace(microsecond=0)


def _settings(endpoint: str, bucket: str, key_id: str) -> dict[str, Any]:
    return {"storage": {"url": f"s3://{bucket}/{PREFIX}", "s3_endpoint_url": endpoint, "s3_region": REGION},
            "vault": {"kms_key_id": key_id, "kms_endpoint_url": endpoint, "kms_region": REGION}}


def _versions(client: Any, bucket: str, key: str) -> int:
    listing = client.list_object_versions(Bucket=bucket, Prefix=f"{PREFIX}/{key}")
    return len(listing.get("Versions", [])) + len(listing.get("DeleteMarkers", []))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """Three years ago, for the archiver and for the sandbox platform alike."""
    manual = ManualClock(REAL_NOW - timedelta(days=3 * 365))

    class SandboxTime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return manual.now()

    monkeypatch.setattr(sandbox_clock, "datetime", SandboxTime)  # every sandbox reads the time here
    return manual


def test_capture_hold_plan_apply_certificate_rebuild(
    tmp_path: Path, s3: Any, lock_bucket: str, kms_key: str, moto_url: str, clock: ManualClock  # noqa: F811
) -> None:
    h = Harness(tmp_path, "facebook", settings=_settings(moto_url, lock_bucket, kms_key))
    try:
        app = h.app
        app.clock = clock
        district = register_account(app, "facebook", fb.DISTRICT, name="Riverside School District",
                                    token_file=str(tmp_path / "token.txt"))
        lincoln = h.account
        list(h.poller.poll())
        for account in (fb.LINCOLN, fb.DISTRICT):
            for item_id in h.sandbox.live_item_ids(account):
                h.sandbox.delete(item_id)
        clock.advance(86400)
        list(h.poller.poll())
        with app.catalog.session() as s:
            warcs = {w.name: (w.store_key, w.account_pk) for w in s.scalars(select(t.WarcFile))}
            live = s.scalar(select(t.Item.id).where(t.Item.deleted_at.is_(None)))
        assert len(warcs) == 4 and live is None

        # before verification nothing is eligible: the series is only partially verified
        assert plan(app).eligible_objects() == []
        verify_series(app, "WA", "GS2010-001", citation="CORE v5.0 (Oct 2024) GS2010-001 Rev. 1",
                      by="J. Doe, Records Officer", actor="records-officer")
        hold = add_hold(app, reason="Doe v. Riverside SD, 26-2-01234", actor="counsel", account=district.label)
        init_export_key(app, actor="records-officer")

        # two years after the deletions, not yet: retained
        soon = plan(app, as_of=clock.now() + timedelta(days=300))
        assert soon.eligible_objects() == [] and "retained" in soon.by_status()
        with pytest.raises(RetentionError, match="future date"):
            apply(app, approver="J. Doe", actor="records-officer", as_of=clock.now() + timedelta(days=800))

        clock.current = REAL_NOW  # three years pass
        result = plan(app, actor="records-officer")
        held = [i for i in result.items if i.account == district.label]
        assert held and all(i.status == "held" and "hold #" in i.reasons[0] for i in held)
        lincoln_objects = {n for n, (_, pk) in warcs.items() if pk == lincoln.id}
        assert {o.name for o in result.eligible_objects()} == lincoln_objects

        # the store refuses one object (Object Lock not expired yet): nothing half-destroyed
        refused_name = sorted(lincoln_objects)[-1]
        app.store.extend_retention(warcs[refused_name][0], datetime.now(UTC) + timedelta(seconds=4))
        first = apply(app, approver="J. Doe, Records Officer", actor="records-officer")
        assert [n for n, _ in first.refused] == [refused_name]
        assert first.destroyed_items == 0 and first.destroyed_objects == sorted(lincoln_objects - {refused_name})
        time.sleep(5)
        second = apply(app, approver="J. Doe, Records Officer", actor="records-officer")
        assert second.refused == [] and second.destroyed_objects == [refused_name]
        assert second.destroyed_items == len([i for i in result.items if i.account == lincoln.label])

        # objects and every copy of their wrapped data keys are gone; the held ones are intact
        for key, pk in warcs.values():
            if pk == lincoln.id:
                assert _versions(s3, lock_bucket, key) == 0
            else:
                head = s3.head_object(Bucket=lock_bucket, Key=f"{PREFIX}/{key}")
                assert head["ObjectLockLegalHoldStatus"] == "ON"
        with app.catalog.session() as s:
            assert {w.name for w in s.scalars(select(t.WarcFile))} == set(warcs) - lincoln_objects
            assert s.scalar(select(t.Item).where(t.Item.account_pk == lincoln.id)) is None
            rows = list(s.scalars(select(rt.Disposition)))
            assert len(rows) == second.destroyed_items and {r.series for r in rows} == {"GS2010-001"}
            assert all(r.certificate_id == second.certificate_id for r in rows)
            assert s.scalar(select(t.Item).where(t.Item.account_pk == district.id)) is not None

        # the certificates: signed, listed, only what was really destroyed
        certs = list_certificates(app)
        assert [c.id for c in certs] == [first.certificate_id, second.certificate_id]
        doc = json.loads(Path(certs[1].json_path).read_text())
        body = doc["certificate"]
        assert body["approved_by"] == "J. Doe, Records Officer" and body["items"] == second.destroyed_items
        assert [o["name"] for o in body["objects"]] == [refused_name]
        assert "verified by J. Doe, Records Officer" in body["series"][0]["citations"][-1]
        data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert verify_signature(doc["signature"]["public_key_pem"].encode(), data,
                                base64.b64decode(doc["signature"]["value"]))
        assert "Certificate of destruction" in Path(certs[1].html_path).read_text()

        # the catalog rebuilt from the WARCs that remain agrees that the destroyed items are gone
        report = rebuild(app)
        assert report.equal, [d for d in report.diffs if not d.equal]

        with app.catalog.session() as s:
            actions = [e.action for e in audit.entries(s)]
        for action in ("schedule.verify", "hold.add", "retention.plan", "retention.apply", "certificate.issue"):
            assert action in actions
        assert hold.items == len(held)
    finally:
        h.close()


def test_audit_verify_fails_after_a_retention_entry_is_edited(tmp_path: Path) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path / "home"), "ARCHIVER_ACTOR": "records-officer"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    assert runner.invoke(cli, ["schedules", "verify", "WA", "GS2010-001", "--citation", "CORE v5.0",
                               "--by", "J. Doe"], env=env).exit_code == 0
    assert runner.invoke(cli, ["audit", "verify"], env=env).exit_code == 0
    from archiver.app import App
    from archiver.core.settings import Settings

    app = App(Settings(home=tmp_path / "home"))
    with app.catalog.session() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.action == "schedule.verify")
                  .values(details={"citation": "something else", "verified_by": "J. Doe"}))
    app.close()
    broken = runner.invoke(cli, ["audit", "verify"], env=env)
    assert broken.exit_code != 0
