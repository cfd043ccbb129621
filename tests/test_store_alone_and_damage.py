"""The store alone plus the current key reads everything, after `keys rotate --remove-old` and
a lost catalog (issue 9 item 7), on the local folder and on S3 with Object Lock; one damaged
object never blocks the rebuild of the others, and every reader names it (item 5)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiver.app import App
from archiver.catalog import queries
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.errors import TamperedData
from archiver.core.models import WarcPointer
from archiver.preservation.fixity import verify
from archiver.preservation.rebuild import rebuild, stored_warc_keys
from archiver.preservation.wrapped_keys import PREFIX, sidecar_keys
from archiver.services.keys import rotate_keys
from archiver.services.warcs import warc_bytes
from archiver.vault import KeyFileProvider
from tests.harness import Harness
from tests.moto_fixtures import (  # noqa: F401 - pytest fixtures
    REGION,
    aws_env,
    lock_bucket,
    moto_url,
    s3,
)


def captured(h: Harness) -> None:
    """Two captures: new items, then an edit and a deletion (three WARCs with the check)."""
    assert h.poll().status == "complete"
    live = sorted(h.sandbox.live_item_ids(h.seed.account_id))
    h.sandbox.edit(live[0])
    h.sandbox.delete(live[-1])
    assert h.poll().status == "complete"


def everything(app: App) -> dict[str, Any]:
    """Every record by pointer and every whole WARC, as a records request would read them."""
    with app.catalog.session() as s:
        pointers = [WarcPointer(v.warc_file, v.warc_offset, v.warc_length, v.warc_record_id)
                    for v in s.scalars(select(t.ItemVersion))]
        pointers += [WarcPointer(x.evidence_file, x.evidence_offset, x.evidence_length, x.evidence_record_id)
                     for x in s.scalars(select(t.Tombstone))]
        warcs = {w.name: w.sha256 for w in s.scalars(select(t.WarcFile))}
    reader = app.warc_reader()
    records = {p.record_id: hashlib.sha256(reader.record(p).body).hexdigest() for p in pointers}
    whole = {name: hashlib.sha256(b"".join(warc_bytes(app, name))).hexdigest() for name in warcs}
    assert whole == warcs and records
    return {"records": records, "warcs": whole}


def lose_the_catalog(h: Harness) -> App:
    h.app.close()
    for suffix in ("", "-wal", "-shm"):
        (h.home / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    return App(h.app.settings)


def disaster(h: Harness) -> None:
    captured(h)
    before = everything(h.app)
    old_kek = h.app.keys.key_id
    report = rotate_keys(h.app, remove_old=True)
    assert report.removed_key_ids == [old_kek] and report.failed == 0
    assert KeyFileProvider(h.app.settings.key_file).key_ids == (report.new_key_id,)
    for key in stored_warc_keys(h.app):  # one sidecar per object, under the new key
        assert len(sidecar_keys(h.app.store, key)) == 1

    app = lose_the_catalog(h)  # the catalog is gone: only the store and the key file are left
    try:
        rebuilt = rebuild(app, apply=True)
        assert rebuilt.unreadable == [] and rebuilt.applied and rebuilt.warcs == len(before["warcs"])
        assert everything(app) == before  # every record reads again, byte for byte
        with app.catalog.session() as s:
            assert set(s.scalars(select(t.WarcFile.key_id))) == {report.new_key_id}

        again = rotate_keys(app, remove_old=True)  # a second rotation adds sidecars, removes none
        assert again.failed == 0 and again.removed_key_ids == [report.new_key_id]
        for key in stored_warc_keys(app):
            assert len(sidecar_keys(app.store, key)) == 2
        app.close()
        app = lose_the_catalog(h)
        assert rebuild(app, apply=True).unreadable == []
        assert everything(app) == before
    finally:
        app.close()


def test_store_alone_reads_everything_after_rotation_and_a_lost_catalog(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        disaster(h)
    finally:
        h.close()


def test_the_same_disaster_on_s3_with_object_lock(tmp_path: Path, aws_env: str, lock_bucket: str) -> None:  # noqa: F811
    h = Harness(tmp_path, "facebook", settings={"storage": {
        "url": f"s3://{lock_bucket}/district", "s3_endpoint_url": aws_env, "s3_region": REGION,
        "default_retain_days": 1}})
    try:
        disaster(h)
        sidecars = [k for k in h.app.store.keys(PREFIX)]
        assert sidecars and all(h.app.store.head(k).retain_until for k in sidecars)  # type: ignore[union-attr]
    finally:
        h.close()


# --- item 5: one damaged object ------------------------------------------------------------


@pytest.fixture
def damaged(tmp_path: Path) -> Iterator[tuple[Harness, str, str]]:
    h = Harness(tmp_path, "facebook")
    captured(h)
    with h.app.catalog.session() as s:
        row = s.scalars(select(t.WarcFile).order_by(t.WarcFile.name.desc())).first()
        assert row is not None
        name, key = row.name, row.store_key
    path = h.home / "store" / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # bit rot in the middle of the newest WARC
    path.chmod(0o600)
    path.write_bytes(bytes(data))
    yield h, name, key
    h.close()


def test_rebuild_skips_a_damaged_object_names_it_and_recovers_the_rest(damaged: tuple[Harness, str, str]) -> None:
    h, name, key = damaged
    report = rebuild(h.app)
    assert [u.store_key for u in report.unreadable] == [key]
    assert report.warcs == len(stored_warc_keys(h.app)) - 1  # every other object was indexed

    env = {"ARCHIVER_HOME": str(h.home)}
    result = CliRunner().invoke(cli, ["catalog", "rebuild", "--apply", "--json"], env=env)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["unreadable"][0]["store_key"] == key
    assert f"skipped unreadable object {key}" in result.stderr
    with h.app.catalog.session() as s:  # the good ones are back in the live catalog
        names = set(s.scalars(select(t.WarcFile.name)))
    assert name not in names and len(names) == len(stored_warc_keys(h.app)) - 1


def test_warc_cat_names_the_damaged_object(damaged: tuple[Harness, str, str]) -> None:
    h, name, key = damaged
    with pytest.raises(TamperedData) as caught:
        b"".join(warc_bytes(h.app, name))
    assert name in caught.value.message and key in caught.value.message
    result = CliRunner().invoke(cli, ["warc", "cat", name], env={"ARCHIVER_HOME": str(h.home)})
    assert result.exit_code == 1
    assert name in result.stderr and key in result.stderr and result.stderr.startswith("error:")


def test_items_show_marks_evidence_whose_object_failed_fixity(damaged: tuple[Harness, str, str]) -> None:
    h, name, _key = damaged
    assert not verify(h.app, sample_pct=None, all_=True).ok
    with h.app.catalog.session() as s:
        in_bad = s.scalar(select(t.Item.item_id).join(t.ItemVersion).where(t.ItemVersion.warc_file == name))
        touched = select(t.ItemVersion.item_pk).where(t.ItemVersion.warc_file == name)
        in_good = s.scalar(select(t.Item.item_id).where(t.Item.id.not_in(touched)))
        assert in_bad and in_good
        bad, good = queries.item_detail(s, in_bad), queries.item_detail(s, in_good)
    assert set(bad.failed_fixity) == {name} and bad.failed_fixity[name]["verdict"] != "ok"
    assert name not in good.failed_fixity
    env = {"ARCHIVER_HOME": str(h.home)}
    shown = CliRunner().invoke(cli, ["items", "show", in_bad], env=env)
    assert shown.exit_code == 0 and "fixity failed" in shown.output
    as_json = json.loads(CliRunner().invoke(cli, ["items", "show", in_bad, "--json"], env=env).stdout)
    assert name in as_json["failed_fixity"]
