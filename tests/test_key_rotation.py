"""Key rotation rewraps the catalog's data keys under a new KEK without touching a stored byte;
afterwards everything reads, also once the old KEK is destroyed, and crypto-shredding one
object (its catalog wrap deleted and the old KEK gone) makes exactly that object unreadable.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from archiver.app import App
from archiver.catalog import queries
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.errors import ConfigError, MissingKey
from archiver.core.models import WarcPointer
from archiver.preservation.fixity import Verdict, verify
from archiver.preservation.outbox import Outbox, vault_context
from archiver.preservation.rebuild import rebuild
from archiver.services.keys import rotate_keys
from archiver.vault import Context, KeyFileProvider, WrappedKey
from archiver.warc.fields import INFO_ACCOUNT, INFO_PLATFORM, INFO_RUN
from archiver.warc.writer import WarcFile
from tests.harness import Harness


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    """Two captures: new items, then an edit and a deletion."""
    h = Harness(tmp_path, "facebook")
    assert h.poll().status == "complete"
    live = sorted(h.sandbox.live_item_ids(h.seed.account_id))
    h.sandbox.edit(live[0])
    h.sandbox.delete(live[-1])
    second = h.poll()
    assert (second.edited, second.deleted) >= (1, 1)
    yield h
    h.close()


def fresh(h: Harness) -> App:
    """A new process's view: key file re-read, no cached range readers."""
    return App(h.app.settings)


def pointers(app: App) -> list[WarcPointer]:
    with app.catalog.session() as s:
        versions = [WarcPointer(v.warc_file, v.warc_offset, v.warc_length, v.warc_record_id)
                    for v in s.scalars(select(t.ItemVersion))]
        evidence = [WarcPointer(x.evidence_file, x.evidence_offset, x.evidence_length, x.evidence_record_id)
                    for x in s.scalars(select(t.Tombstone))]
    assert evidence
    return versions + evidence


def what_reads(app: App) -> dict[str, object]:
    """Everything a records request would read: item details, every pointed record, every WARC."""
    with app.catalog.session() as s:
        item_ids = sorted(s.scalars(select(t.Item.item_id)))
        details = {i: queries.item_detail(s, i).as_dict() for i in item_ids}
        warcs = {w.name: w.sha256 for w in s.scalars(select(t.WarcFile))}
    records = {p.record_id: hashlib.sha256(app.warc_reader().record(p).body).hexdigest() for p in pointers(app)}
    whole = {name: hashlib.sha256(b"".join(app.warc_reader().warc_bytes(name))).hexdigest() for name in warcs}
    assert whole == warcs
    return {"details": details, "records": records, "warcs": whole}


def stored_bytes(h: Harness) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (h.home / "store").rglob("*.enc")}


def key_ids(app: App) -> set[str]:
    with app.catalog.session() as s:
        return set(s.scalars(select(t.WarcFile.key_id)))


def test_rotation_keeps_everything_readable_before_and_after_the_old_kek_is_destroyed(h: Harness) -> None:
    before = what_reads(h.app)
    objects = stored_bytes(h)
    old_kek = h.app.keys.key_id

    report = rotate_keys(h.app)

    assert (report.rewrapped, report.already_current, report.failed) == (2, 0, 0)
    assert report.old_key_ids == [old_kek] and report.new_key_id != old_kek
    assert report.complete and report.old_keys_removable and not report.removed_key_ids
    assert key_ids(h.app) == {report.new_key_id}
    assert stored_bytes(h) == objects  # not one stored byte rewritten

    after = fresh(h)
    assert what_reads(after) == before
    assert rebuild(after).equal
    after.close()

    # destroy the old KEK: the headers' stale wraps die, the catalog's live ones still open
    KeyFileProvider(h.app.settings.key_file, create=False).remove_key(old_kek)
    destroyed = fresh(h)
    assert old_kek not in KeyFileProvider(h.app.settings.key_file).key_ids
    assert what_reads(destroyed) == before
    assert rebuild(destroyed).equal
    assert verify(destroyed, sample_pct=None, all_=True).ok
    destroyed.close()

    # capture goes on under the new KEK, and the next rotation moves all three rows again
    h.poll()
    assert key_ids(h.app) == {report.new_key_id}
    again = rotate_keys(h.app)
    assert (again.rewrapped, again.already_current, again.failed) == (3, 0, 0)


def test_crypto_shredding_needs_both_the_catalog_wrap_and_the_old_kek_gone(h: Harness) -> None:
    report = rotate_keys(h.app)
    with h.app.catalog.session() as s:
        victim = s.scalars(select(t.WarcFile).order_by(t.WarcFile.name)).first()
        assert victim is not None
        victim.wrapped_key = None  # the disposition deletes this object's catalog wrap
        name = victim.name
    evidence = next(p for p in pointers(h.app) if p.filename == name)

    # the header still carries a wrap under the old KEK: deleting the row's copy alone is not enough
    still = fresh(h)
    assert hashlib.sha256(b"".join(still.warc_reader().warc_bytes(name))).hexdigest()
    still.close()

    # rotation will not destroy the old KEK for us while an object depends on its header copy
    guarded = rotate_keys(h.app, remove_old=True)
    assert guarded.header_only == 1 and not guarded.removed_key_ids
    assert "delete their catalog rows first" in guarded.next_step()

    # the disposition itself destroys it, deliberately
    KeyFileProvider(h.app.settings.key_file).remove_key(report.old_key_ids[0])
    shredded = fresh(h)
    with pytest.raises(MissingKey, match="not in key file"):
        b"".join(shredded.warc_reader().warc_bytes(name))
    with pytest.raises(MissingKey, match="not in key file"):
        shredded.warc_reader().record(evidence)
    findings = verify(shredded, sample_pct=None, all_=True).findings
    assert [(f.name, f.verdict) for f in findings] == [(name, Verdict.MISSING_KEY)]
    for other in (p for p in pointers(shredded) if p.filename != name):
        shredded.warc_reader().record(other)  # every other object still reads
    shredded.close()


def _encrypted_in_spool(h: Harness) -> Path:
    """A sealed, encrypted WARC waiting in the spool (as a crash before upload leaves it)."""
    info = {INFO_PLATFORM: "facebook", INFO_ACCOUNT: h.seed.account_id, INFO_RUN: str(uuid.uuid4())}
    warc = WarcFile(h.app.settings.spool_dir, f"facebook-{h.seed.account_id}-spooled.warc.gz", info,
                    now=h.app.clock.now())
    return Outbox(h.app).encrypt(warc.seal().path)


def test_remove_old_waits_until_nothing_needs_an_old_kek(h: Harness) -> None:
    first_kek = h.app.keys.key_id
    pending = _encrypted_in_spool(h)  # under the first KEK, not yet in the catalog

    refused = rotate_keys(h.app, remove_old=True)
    assert refused.rewrapped == 2 and refused.spool_old == 1
    assert not refused.complete and not refused.removed_key_ids
    assert "poll" in refused.next_step()
    assert first_kek in KeyFileProvider(h.app.settings.key_file).key_ids

    h.poller.recover()  # the restart ships and catalogues the spooled WARC (header wrap, first KEK)
    assert not pending.exists()
    assert first_kek in key_ids(h.app)

    done = rotate_keys(h.app, remove_old=True)
    assert (done.rewrapped, done.failed, done.spool_old, done.still_old) == (3, 0, 0, 0)
    assert sorted(done.removed_key_ids) == sorted([first_kek, refused.new_key_id])
    assert KeyFileProvider(h.app.settings.key_file).key_ids == (done.new_key_id,)
    after = fresh(h)
    assert verify(after, sample_pct=None, all_=True).ok
    assert rebuild(after).equal
    after.close()


class ShreddingDuringRotation(KeyFileProvider):
    """A key file whose rewrap of `victim` coincides with that object's disposition deleting
    its catalog wrap (another process), between the rotation's read and its write."""

    def __init__(self, app: App, victim: str) -> None:
        super().__init__(app.settings.key_file)
        self.app, self.victim = app, victim

    def wrap(self, data_key: bytes, context: Context) -> WrappedKey:
        if dict(context) == vault_context(self.victim):
            with self.app.catalog.session() as s:
                s.execute(update(t.WarcFile).where(t.WarcFile.name == self.victim).values(wrapped_key=None))
        return super().wrap(data_key, context)


def test_rotation_never_resurrects_a_wrap_deleted_meanwhile(h: Harness) -> None:
    with h.app.catalog.session() as s:
        first, second = s.scalars(select(t.WarcFile.name).order_by(t.WarcFile.name)).all()
    app = App(h.app.settings)
    app.__dict__["keys"] = ShreddingDuringRotation(app, second)  # composition root: inject the provider
    report = rotate_keys(app, remove_old=True, batch_size=1)
    assert (report.rewrapped, report.failed) == (1, 1)
    assert [(f.object_id, "changed during the rotation" in f.message) for f in report.failures] == [(second, True)]
    assert not report.complete and not report.removed_key_ids  # old key kept while anything failed
    assert report.header_only == 1  # and the shredded row's header still needs it: say so
    with app.catalog.session() as s:
        wraps = {name: key_id for name, key_id in s.execute(
            select(t.WarcFile.name, t.WarcFile.key_id).where(t.WarcFile.wrapped_key.is_not(None)))}
    assert wraps == {first: report.new_key_id}  # the shredded row stays without a wrap
    app.close()


def test_cli_keys_rotate(h: Harness) -> None:
    env = {"ARCHIVER_HOME": str(h.home)}
    first = CliRunner().invoke(cli, ["keys", "rotate", "--json"], env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert (data["rewrapped"], data["failed"], data["old_keys_removable"]) == (2, 0, True)
    assert "--remove-old" in data["next_step"]
    second = CliRunner().invoke(cli, ["keys", "rotate", "--remove-old"], env=env, catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert "rewrapped" in second.output and "old keys removed" in second.output
    assert len(KeyFileProvider(h.app.settings.key_file).key_ids) == 1
    wrong = CliRunner().invoke(cli, ["keys", "rotate", "--to-kms-key", "alias/x"], env=env)
    assert wrong.exit_code == 2 and wrong.output.startswith("error: ") and wrong.output.count("\n") == 1
    assert "KMS mode" in wrong.output
    with pytest.raises(ConfigError, match="KMS mode"):
        rotate_keys(h.app, to_kms_key="alias/next")
    assert len(KeyFileProvider(h.app.settings.key_file).key_ids) == 1  # nothing was rotated
