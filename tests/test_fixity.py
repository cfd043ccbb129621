"""Fixity: `verify` finds every damaged object among many, names what is wrong, and raises no
false alarm on the rest.

One real archive (a dozen Facebook sandbox captures, small vault segments so objects have many
AEAD segments) is built once per module; each test works on its own copy of the home.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.app import App
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.errors import ConfigError
from archiver.core.settings import Settings
from archiver.preservation.fixity import (
    DEFAULT_SAMPLE_PCT,
    Verdict,
    history,
    last_checked,
    sample_size,
    verify,
)
from archiver.preservation.outbox import Outbox, warc_key
from archiver.services.archive_home import create_archive
from archiver.vault import read_header
from tests.harness import Harness

POLLS = 12


@pytest.fixture(scope="module")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with POLLS encrypted WARCs in the local store (edits and a deletion included)."""
    root = tmp_path_factory.mktemp("fixity")
    with pytest.MonkeyPatch.context() as mp:  # same isolation as the autouse fixtures
        for key in [k for k in os.environ if k.startswith("ARCHIVER_")]:
            mp.delenv(key)
        (root / "empty-archiver.toml").write_text("")
        mp.setenv("ARCHIVER_CONFIG", str(root / "empty-archiver.toml"))
        h = Harness(root, "facebook", settings={"vault": {"segment_size": 4096}})
        try:
            for n in range(POLLS):
                if n == 3:
                    post = sorted(h.sandbox.live_item_ids(h.seed.account_id))[0]
                    h.sandbox.edit(post)
                if n == 6:
                    h.sandbox.delete(sorted(h.sandbox.live_item_ids(h.seed.account_id))[-1])
                assert h.poll().status == "complete"
        finally:
            h.close()
    yield h.home


@pytest.fixture
def app(built_home: Path, tmp_path: Path) -> Iterator[App]:
    home = tmp_path / "home"
    shutil.copytree(built_home, home)
    app = App(Settings(home=home))
    yield app
    app.close()


def rows(app: App) -> list[t.WarcFile]:
    with app.catalog.session() as s:
        return list(s.scalars(select(t.WarcFile).order_by(t.WarcFile.name)))


def stored_path(app: App, key: str) -> Path:
    return app.settings.home / "store" / key


def rewrite(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Alter a stored object in place: the store keeps them read-only, as an admin's disk would not."""
    os.chmod(path, 0o644)
    path.write_bytes(change(path.read_bytes()))
    os.chmod(path, 0o444)


def flip(offset: int):  # type: ignore[no-untyped-def]
    def change(data: bytes) -> bytes:
        return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]

    return change


def update_row(app: App, name: str, **values: object) -> None:
    with app.catalog.session() as s:
        row = s.scalar(select(t.WarcFile).where(t.WarcFile.name == name))
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)


def store_bad_digest_warc(app: App, account_id: str) -> str:
    """Encrypt, store and catalog a WARC whose response record fails its own payload digest,
    as if the capture host's memory or disk had flipped a byte before sealing."""
    name = f"facebook-{account_id}-20261201000000000-00000bad000-test.warc.gz"
    spool = app.settings.spool_dir
    spool.mkdir(parents=True, exist_ok=True)
    plain = spool / name
    members = []
    for rec_type, body in (("warcinfo", b""), ("response", b'{"id": "1", "message": "original"}')):
        out = io.BytesIO()
        writer = WARCWriter(out, gzip=False, warc_version="1.1")
        if rec_type == "warcinfo":
            record = writer.create_warcinfo_record(name, {"platform": "facebook", "account": account_id})
        else:
            record = writer.create_warc_record(
                "https://graph.facebook.com/v21.0/1", "response", payload=io.BytesIO(body),
                http_headers=StatusAndHeaders("200 OK", [("Content-Type", "application/json")],
                                              protocol="HTTP/1.1"))
        writer.write_record(record)
        raw = out.getvalue().replace(b'"original"', b'"0riginal"')  # same length, digest now wrong
        members.append(gzip.compress(raw))
    plain.write_bytes(b"".join(members))
    size, sha = plain.stat().st_size, hashlib.sha256(plain.read_bytes()).hexdigest()
    enc = Outbox(app).encrypt(plain)
    object_sha = hashlib.sha256(enc.read_bytes()).hexdigest()
    key = warc_key("facebook", account_id, name)
    stored = app.store.put_file(key, enc, sha256=object_sha)
    with open(enc, "rb") as fh:
        header = read_header(fh)
    enc.unlink()
    now = datetime.now(UTC)
    with app.catalog.session() as s:
        s.add(t.WarcFile(name=name, size=size, sha256=sha, records=2, first_date=now, last_date=now,
                         store_key=key, stored_at=now, object_size=stored.size, object_sha256=object_sha,
                         key_id=header.key_id, wrapped_key=header.wrapped_key))
    return name


def test_clean_archive_has_no_findings_and_every_record_digest_is_checked(app: App) -> None:
    report = verify(app, sample_pct=None, all_=True)
    assert report.ok and report.checked == report.total_objects == POLLS
    catalogued = {r.name: r.records for r in rows(app)}
    assert {r.name: r.records for r in report.results} == catalogued  # every record re-read
    assert all(r.bytes_read == row.object_size for r, row in zip(report.results, rows(app), strict=True))


def test_finds_every_damaged_object_and_nothing_else(app: App) -> None:
    warcs = rows(app)
    account_id = warcs[0].store_key.split("/")[2]
    expected: dict[str, Verdict] = {}

    def damage(i: int, verdict: Verdict) -> t.WarcFile:
        expected[warcs[i].name] = verdict
        return warcs[i]

    body = damage(0, Verdict.TAMPERED)  # bit rot inside a segment
    rewrite(stored_path(app, body.store_key), flip(body.object_size // 2))  # type: ignore[operator]
    header = damage(2, Verdict.TAMPERED)  # bit rot in the header
    rewrite(stored_path(app, header.store_key), flip(20))
    short = damage(4, Verdict.TAMPERED)  # truncated
    rewrite(stored_path(app, short.store_key), lambda data: data[:-1000])
    gone = damage(5, Verdict.MISSING)
    stored_path(app, gone.store_key).unlink()
    swapped = damage(7, Verdict.WRONG_KEY)  # another object's wrapped key in its row
    update_row(app, swapped.name, wrapped_key=warcs[8].wrapped_key, key_id=warcs[8].key_id)
    lost_key = damage(9, Verdict.MISSING_KEY)  # a key id the key file does not hold
    update_row(app, lost_key.name, key_id="kf-20200101-00000000")
    ledger = damage(10, Verdict.CIPHERTEXT_MISMATCH)  # the stored bytes no longer match the ledger
    update_row(app, ledger.name, object_sha256="0" * 64)
    described = damage(11, Verdict.PLAINTEXT_MISMATCH)  # decrypts, but not to the WARC on record
    update_row(app, described.name, sha256="f" * 64)
    expected[store_bad_digest_warc(app, account_id)] = Verdict.RECORD_DIGEST_FAILED

    report = verify(app, sample_pct=None, all_=True)

    assert report.checked == POLLS + 1
    found = {r.name: r.verdict for r in report.findings}
    assert found == expected  # every damaged object, and no false alarm on warcs 1, 3, 6 and 8
    assert {r.name for r in report.results if r.ok} == {warcs[i].name for i in (1, 3, 6, 8)}
    for finding in report.findings:
        assert finding.explanation and "\n" not in finding.explanation
    by_name = {r.name: r for r in report.findings}
    assert "segment" in by_name[body.name].explanation
    assert "header" in by_name[header.name].explanation
    assert "restore" in by_name[gone.name].explanation
    bad_warc = next(iter(expected.keys() - {w.name for w in warcs}))
    assert "digest failed" in by_name[bad_warc].explanation
    assert "authenticates" in by_name[ledger.name].explanation  # the ledger, not the object, is off

    # the run is in the fixity log, one row per object, with its verdict
    logged = history(app, gone.name)
    assert [(c.run_id, c.verdict) for c in logged] == [(report.run_id, "missing")]
    assert len(last_checked(app)) == POLLS + 1


def test_a_damaged_object_without_a_ledger_digest_is_still_caught(app: App) -> None:
    """Rows from before the ledger (no object digest) rely on authentication alone."""
    target = rows(app)[3]
    update_row(app, target.name, object_sha256=None, object_size=None)
    rewrite(stored_path(app, target.store_key), flip(target.object_size - 5))  # type: ignore[operator]
    report = verify(app, sample_pct=None, all_=True)
    assert [(r.name, r.verdict) for r in report.findings] == [(target.name, Verdict.TAMPERED)]


def test_sampling_picks_the_right_count(app: App) -> None:
    assert [sample_size(0, 5), sample_size(1, 5), sample_size(12, 5), sample_size(1000, 5),
            sample_size(12, 10), sample_size(12, 100)] == [0, 1, 1, 50, 2, 12]
    assert verify(app, sample_pct=None, all_=False).checked == 1  # the default: 5%, at least one
    assert DEFAULT_SAMPLE_PCT == 5.0
    assert verify(app, sample_pct=25, all_=False, rng=random.Random(1)).checked == 3
    assert verify(app, sample_pct=0.01, all_=False).checked == 1
    assert verify(app, sample_pct=100, all_=False).checked == POLLS
    seen = set()
    for seed in range(8):
        report = verify(app, sample_pct=10, all_=False, rng=random.Random(seed))
        assert report.checked == 2 and report.sample_pct == 10
        seen.update(r.name for r in report.results)
    assert len(seen) > 3  # random, not always the same two
    with pytest.raises(ConfigError, match="either --all or --sample"):
        verify(app, sample_pct=5, all_=True)
    for bad in (0, -1, 101):
        with pytest.raises(ConfigError, match="--sample"):
            verify(app, sample_pct=bad, all_=False)


def test_empty_catalog_checks_nothing(tmp_path: Path) -> None:
    app = App(Settings(home=tmp_path / "empty"))
    create_archive(app)
    try:
        report = verify(app, sample_pct=None, all_=False)
        assert report.ok and report.checked == 0 and report.total_objects == 0
    finally:
        app.close()


def test_cli_verify_exits_1_on_findings_with_a_table_and_json(app: App) -> None:
    env = {"ARCHIVER_HOME": str(app.settings.home)}
    clean = CliRunner().invoke(cli, ["verify", "--all", "--json"], env=env, catch_exceptions=False)
    assert clean.exit_code == 0, clean.output
    data = json.loads(clean.stdout)
    assert data["ok"] and data["checked"] == POLLS and data["counts"] == {"ok": POLLS}
    assert data["recorded"] and uuid.UUID(data["run_id"])

    victim = rows(app)[1]
    stored_path(app, victim.store_key).unlink()
    table = CliRunner().invoke(cli, ["verify", "--all"], env=env, catch_exceptions=False)
    assert table.exit_code == 1
    assert "missing" in table.output and "1 findings" in table.output
    as_json = CliRunner().invoke(cli, ["verify", "--sample", "100", "--json"], env=env)
    assert as_json.exit_code == 1
    assert [f["verdict"] for f in json.loads(as_json.stdout)["findings"]] == ["missing"]
    both = CliRunner().invoke(cli, ["verify", "--all", "--sample", "5"], env=env)
    assert both.exit_code == 2 and both.output.startswith("error: ")
