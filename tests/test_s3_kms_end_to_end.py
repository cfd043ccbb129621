"""The whole pipeline on S3 with Object Lock and KMS (moto in server mode on 127.0.0.1).

Capture -> WARC -> encrypt under a KMS data key -> conditional, digest-verified upload under a
retain-until date -> catalog; then every way of reading back (items, record_at, warc cat,
rebuild, verify) goes through S3 ranged and whole GETs and KMS Decrypt.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import queries
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.errors import ConfigError, ObjectLocked, StorageError
from archiver.core.models import WarcPointer
from archiver.core.settings import Settings
from archiver.preservation.fixity import Verdict, verify
from archiver.preservation.rebuild import rebuild
from archiver.services.keys import rotate_keys
from archiver.vault.format import MAGIC
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


def cloud_settings(endpoint: str, bucket: str, key_id: str, **storage: Any) -> dict[str, Any]:
    return {
        "storage": {"url": f"s3://{bucket}/{PREFIX}", "s3_endpoint_url": endpoint, "s3_region": REGION,
                    **storage},
        "vault": {"kms_key_id": key_id, "kms_endpoint_url": endpoint, "kms_region": REGION},
    }


def cloud_env(h: Harness, endpoint: str, bucket: str, key_id: str) -> dict[str, str]:
    """The same settings as ARCHIVER_* variables, for the CLI."""
    return {"ARCHIVER_HOME": str(h.home), "ARCHIVER_STORAGE__URL": f"s3://{bucket}/{PREFIX}",
            "ARCHIVER_STORAGE__S3_ENDPOINT_URL": endpoint, "ARCHIVER_STORAGE__S3_REGION": REGION,
            "ARCHIVER_VAULT__KMS_KEY_ID": key_id, "ARCHIVER_VAULT__KMS_ENDPOINT_URL": endpoint,
            "ARCHIVER_VAULT__KMS_REGION": REGION}


def version_pointers(app: App, item_id: str) -> list[WarcPointer]:
    with app.catalog.session() as s:
        item = s.scalar(select(t.Item).where(t.Item.item_id == item_id))
        assert item is not None
        return [WarcPointer(v.warc_file, v.warc_offset, v.warc_length, v.warc_record_id) for v in item.versions]


def some_records(app: App, per_warc: int = 4) -> dict[str, str]:
    """A few records of every WARC by pointer (each one a ranged GET plus a KMS unwrap per WARC)."""
    with app.catalog.session() as s:
        pointers = [WarcPointer(v.warc_file, v.warc_offset, v.warc_length, v.warc_record_id)
                    for v in s.scalars(select(t.ItemVersion).order_by(t.ItemVersion.warc_file,
                                                                      t.ItemVersion.warc_offset.desc()))]
    chosen: list[WarcPointer] = []
    for p in pointers:
        if sum(c.filename == p.filename for c in chosen) < per_warc:
            chosen.append(p)
    assert len({p.filename for p in chosen}) == 2
    return {p.record_id: hashlib.sha256(app.warc_reader().record(p).body).hexdigest() for p in chosen}


def test_capture_and_every_read_path_through_s3_and_kms(
    tmp_path: Path, aws_env: str, s3: Any, kms: Any, lock_bucket: str, kms_key: str  # noqa: F811
) -> None:
    h = Harness(tmp_path, "facebook", settings=cloud_settings(aws_env, lock_bucket, kms_key,
                                                              default_retain_days=1))
    try:
        assert h.poll().status == "complete"
        live = sorted(h.sandbox.live_item_ids(h.seed.account_id))
        edited, deleted = live[0], live[-1]
        h.sandbox.edit(edited)
        h.sandbox.delete(deleted)
        second = h.poll()
        assert second.status == "complete" and second.edited >= 1 and second.deleted >= 1

        # S3 holds only ciphertext, each object locked; nothing is left on local disk
        listed = s3.list_objects_v2(Bucket=lock_bucket, Prefix=f"{PREFIX}/warc/")["Contents"]
        keys = sorted(o["Key"] for o in listed)
        assert len(keys) == 2 and all(k.endswith(".warc.gz.enc") for k in keys)
        for key in keys:
            assert s3.get_object(Bucket=lock_bucket, Key=key)["Body"].read(len(MAGIC)) == MAGIC
            head = s3.head_object(Bucket=lock_bucket, Key=key)
            assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"] > datetime.now(UTC)
        leftovers = [p for p in (h.home / "spool").iterdir() if p.name != ".lock"]
        assert not leftovers and not (h.home / "store").exists()
        arn = kms.describe_key(KeyId=kms_key)["KeyMetadata"]["Arn"]
        with h.app.catalog.session() as s:
            warcs = list(s.scalars(select(t.WarcFile).order_by(t.WarcFile.name)))
        assert {w.key_id for w in warcs} == {arn}

        # items show, record_at, warc cat
        with h.app.catalog.session() as s:
            shown = queries.item_detail(s, edited)
            tomb = queries.item_detail(s, deleted).tombstone
        assert shown.summary.versions == 2 and tomb is not None
        first, latest = (h.app.warc_reader().record(p) for p in version_pointers(h.app, edited))
        assert b"Edited text" in latest.body and b"Edited text" not in first.body
        evidence = tomb["evidence"]
        proof = h.app.warc_reader().record(WarcPointer(evidence["file"], evidence["offset"], evidence["length"],
                                             evidence["record_id"]))
        assert proof.pointer.record_id == evidence["record_id"]
        for w in warcs:
            assert hashlib.sha256(b"".join(h.app.warc_reader().warc_bytes(w.name))).hexdigest() == w.sha256

        # rebuild and verify, in-process and through the CLI
        assert rebuild(h.app).equal
        report = verify(h.app, sample_pct=None, all_=True)
        assert report.ok and report.checked == 2
        env = cloud_env(h, aws_env, lock_bucket, kms_key)
        cli_show = CliRunner().invoke(cli, ["items", "show", edited, "--json"], env=env)
        assert cli_show.exit_code == 0 and len(json.loads(cli_show.stdout)["version_history"]) == 2
        cli_verify = CliRunner().invoke(cli, ["verify", "--all", "--json"], env=env)
        assert cli_verify.exit_code == 0, cli_verify.output
        assert json.loads(cli_verify.stdout)["counts"] == {"ok": 2}

        # Object Lock: the archiver cannot delete a record before its retain-until date
        with pytest.raises(ObjectLocked, match="retained until"):
            h.app.store.delete(warcs[0].store_key)

        # bit rot inside S3 is a fixity finding, not a crash, and only for that object
        rotten = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets[lock_bucket].keys[f"{PREFIX}/{warcs[1].store_key}"]
        data = bytearray(rotten.value)
        data[len(data) // 2] ^= 0x01
        rotten.value = bytes(data)
        findings = verify(App(h.app.settings), sample_pct=None, all_=True).findings
        assert [(f.name, f.verdict) for f in findings] == [(warcs[1].name, Verdict.CIPHERTEXT_MISMATCH)]
    finally:
        h.close()


def test_kms_rotation_to_another_key_keeps_every_read_working(
    tmp_path: Path, aws_env: str, kms: Any, lock_bucket: str, kms_key: str  # noqa: F811
) -> None:
    h = Harness(tmp_path, "facebook", settings=cloud_settings(aws_env, lock_bucket, kms_key))
    try:
        h.poll()
        h.sandbox.publish(h.seed.account_id)
        h.poll()
        before = some_records(h.app)
        old_arn = kms.describe_key(KeyId=kms_key)["KeyMetadata"]["Arn"]
        new_key = kms.create_key(Description="archive key 2027")["KeyMetadata"]
        kms.create_alias(AliasName="alias/archive-2027", TargetKeyId=new_key["KeyId"])

        with pytest.raises(ConfigError, match="--to-kms-key"):
            rotate_keys(h.app)
        with pytest.raises(ConfigError, match="retired in KMS"):
            rotate_keys(h.app, remove_old=True, to_kms_key="alias/archive-2027")

        report = rotate_keys(h.app, to_kms_key="alias/archive-2027")
        assert (report.provider, report.rewrapped, report.failed, report.complete) == ("kms", 2, 0, True)
        assert report.old_key_ids == [old_arn] and report.new_key_id == new_key["Arn"]
        assert "vault.kms_key_id" in report.next_step()
        with h.app.catalog.session() as s:
            assert set(s.scalars(select(t.WarcFile.key_id))) == {new_key["Arn"]}

        # the settings still name the old key: reads use each row's key id, so nothing breaks
        later = App(h.app.settings)
        assert some_records(later) == before and rebuild(later).equal
        assert verify(later, sample_pct=None, all_=True).ok
        later.close()
        assert rotate_keys(h.app, to_kms_key=new_key["KeyId"]).already_current == 2

        # a wrapped key moved onto another object's row does not open it (context binding)
        with h.app.catalog.session() as s:
            a, b = s.scalars(select(t.WarcFile).order_by(t.WarcFile.name)).all()
            a.wrapped_key = b.wrapped_key
            name = a.name
        findings = verify(App(h.app.settings), sample_pct=None, all_=True).findings
        assert [(f.name, f.verdict) for f in findings] == [(name, Verdict.WRONG_KEY)]
    finally:
        h.close()


def test_a_bucket_without_object_lock_is_refused_by_name(
    tmp_path: Path, aws_env: str, s3: Any, kms_key: str  # noqa: F811
) -> None:
    s3.create_bucket(Bucket="plain-bucket")
    app = App(Settings(home=tmp_path / "home", **cloud_settings(aws_env, "plain-bucket", kms_key)))
    try:
        with pytest.raises(StorageError, match="plain-bucket") as refused:
            _ = app.store
        assert "Object Lock" in refused.value.message and "\n" not in refused.value.message
    finally:
        app.close()
