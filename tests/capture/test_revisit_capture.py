"""Revisit records end to end (issue 12 part 3): a second identical poll of a sandbox account
stores revisits, every reader resolves them (items show, catalog rebuild, the export
package), and an original destroyed under retention is one line, never a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from archiver.catalog import tables as t
from archiver.catalog.payloads import stored_payloads
from archiver.core.models import WarcPointer
from archiver.preservation.rebuild import rebuild
from archiver.requests.package.build import build_package
from archiver.requests.package.model import ExportRequest
from archiver.requests.package.verify import verify_package
from archiver.services.accounts import register_account
from archiver.services.items import show_item
from archiver.services.keys import init_export_key
from archiver.services.poll import RunReport
from archiver.warc.reader import iter_records
from archiver.warc.revisit import UnresolvedRevisit
from tests.harness import Harness

WARCIO = Path(sys.executable).parent / "warcio"


def _warcio_check(path: Path) -> None:
    out = subprocess.run([str(WARCIO), "check", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _records(h: Harness, name: str) -> list:
    path = next(p for p in h.warc_files() if p.name == name)
    with open(path, "rb") as fh:
        return list(iter_records(fh, name))


def _whole(h: Harness) -> RunReport:
    """A poll that reads every listing again (`poll --once --reconcile`): the identical
    answers revisits exist for. An ordinary incremental poll asks for far less."""
    (report,) = h.poller.poll(h.account.label, reconcile=True)
    return report


def _stored_bytes(h: Harness, report: RunReport) -> int:
    with h.app.catalog.session() as s:
        return sum(w.size for w in s.scalars(select(t.WarcFile).where(t.WarcFile.name.in_(report.warcs))))


def _revisit_observation(h: Harness) -> tuple[str, WarcPointer, t.ItemVersion]:
    """An item the second poll observed through a revisit record: (id, observation, version)."""
    with h.app.catalog.session() as s:
        warcs = [w.name for w in s.scalars(select(t.WarcFile).order_by(t.WarcFile.name))]
        revisits = {(r.pointer.filename, r.pointer.offset): r.pointer for r in _records(h, warcs[-1])
                    if r.rec_type == "revisit"}
        for obs in s.scalars(select(t.Observation).where(t.Observation.warc_file == warcs[-1])):
            ptr = revisits.get((obs.warc_file, obs.warc_offset))
            if ptr is not None:
                item = s.get(t.Item, obs.item_pk)
                assert item is not None
                return item.item_id, ptr, item.versions[-1]
    raise AssertionError("no observation of the second poll points at a revisit record")


def test_an_identical_poll_stores_revisits_that_items_show_and_rebuild_resolve(
        tmp_path: Path, database_url: str) -> None:
    h = Harness(tmp_path, "mastodon", database_url=database_url)
    try:
        first, second = _whole(h), _whole(h)
        assert first.status == second.status == "complete"
        assert second.new == second.edited == second.deleted == 0 and second.unchanged == first.new
        kinds = [r.rec_type for r in _records(h, second.warcs[0])]
        assert kinds.count("revisit") >= 5
        for path in h.warc_files():
            _warcio_check(path)
        assert _stored_bytes(h, second) < _stored_bytes(h, first)

        # items show: the item keeps pointing where its content first appeared (the first
        # poll's response); its second observation is the revisit, which reads as the original
        item_id, revisit_ptr, version = _revisit_observation(h)
        detail = show_item(h.app, item_id)
        assert len(detail.versions) == 1 and detail.observations == 2
        assert detail.versions[0].warc["file"] == first.warcs[0]
        reader = h.app.warc_reader()
        original = reader.record(WarcPointer(version.warc_file, version.warc_offset, version.warc_length,
                                             version.warc_record_id))
        seen_again = reader.record(revisit_ptr)
        assert seen_again.rec_type == "revisit" and seen_again.pointer == revisit_ptr
        assert seen_again.headers["WARC-Refers-To"] == version.warc_record_id
        assert seen_again.body == original.body and original.body

        # the catalog rebuilt from the WARCs alone is the live one, stored payloads included
        with h.app.catalog.session() as s:
            assert s.scalar(select(t.StoredPayload.id)) is not None
        report = rebuild(h.app)
        assert report.complete and report.equal, [d for d in report.diffs if not d.equal]
        assert any(d.table == "stored_payloads" and d.live > 0 for d in report.diffs)
    finally:
        h.close()


def test_an_idle_poll_of_a_large_account_stores_a_fraction_of_the_first(tmp_path: Path) -> None:
    """1,000 feed items: the listing bodies are large and byte-stable, so the idle poll is
    revisits plus request records (measured ~31%; without revisits 100%)."""
    h = Harness(tmp_path, "feeds")
    try:
        h.app.settings.connectors["feeds"].page_limit = 100  # as bench/revisit.py
        h.sandbox.seed_bulk(1000)  # the same site as the registered account
        first, second = _whole(h), _whole(h)
        assert first.status == second.status == "complete" and first.new >= 1000
        kinds = [r.rec_type for name in second.warcs for r in _records(h, name)]
        assert kinds.count("revisit") == kinds.count("request") == second.exchanges  # every answer repeated
        assert "response" not in kinds
        assert _stored_bytes(h, second) < 0.35 * _stored_bytes(h, first)
    finally:
        h.close()


def test_every_revisit_is_smaller_than_its_original(tmp_path: Path) -> None:
    """A revisit names its original in fields that outweigh a tiny body (Instagram's comment
    listings repeat byte for byte but are a few hundred bytes): those stay responses, so no
    revisit ever costs more than storing the answer again."""
    h = Harness(tmp_path, "instagram")
    try:
        seed = h.sandbox.seed_bulk(30)  # posts with two short comments each
        token = tmp_path / "bulk-token.txt"
        token.write_text(seed.token or "")
        token.chmod(0o600)
        bulk = register_account(h.app, "instagram", seed.raw_id, token_file=str(token))
        for _ in range(2):
            second = next(iter(h.poller.poll(bulk.label, reconcile=True)))  # every listing again
        assert second.status == "complete"
        kept = revisits = 0
        for r in _records(h, second.warcs[0]):
            if r.rec_type == "revisit":
                revisits += 1
                length = int(r.headers["X-Archiver-Refers-To-Location"].rsplit("+", 1)[1])
                assert r.pointer.length < length, r.target_uri
            elif r.rec_type == "response" and "/comments" in r.target_uri:
                kept += 1
        assert kept >= 1  # identical tiny listings written whole
    finally:
        h.close()


def _export_request(item_ids: list[str]) -> ExportRequest:
    return ExportRequest(
        request_id="PRR-2026-0099", requester="Pat Reporter", received=date(2026, 12, 1), due=date(2026, 12, 8),
        description="Posts seen again", state="WA", district="Test School District",
        item_ids=tuple(item_ids), redactions=(), withheld=(), searches=(),
    )


def test_an_export_whose_evidence_is_a_revisit_carries_the_original_and_verifies(tmp_path: Path) -> None:
    h = Harness(tmp_path, "mastodon")
    try:
        _whole(h)
        _whole(h)
        item_id, revisit_ptr, _version = _revisit_observation(h)
        init_export_key(h.app)
        out = tmp_path / "package"
        summary = build_package(h.app, _export_request([item_id]), out)
        warc = out / "data" / "records.warc.gz"
        _warcio_check(warc)
        verdict = verify_package(out)
        assert verdict.ok, verdict.problems
        with open(warc, "rb") as fh:
            exported = {r.pointer.record_id: r for r in iter_records(fh, "records.warc.gz")}
        revisits = [r for r in exported.values() if r.rec_type == "revisit"]
        assert revisit_ptr.record_id in exported and revisits
        for r in revisits:  # self-contained: each original is in the package itself
            original = exported[r.headers["WARC-Refers-To"]]
            assert original.rec_type == "response"
            assert original.headers["WARC-Payload-Digest"] == r.headers["WARC-Payload-Digest"]
        assert not summary.warnings
    finally:
        h.close()


def test_a_revisit_of_a_record_holding_a_withheld_item_is_left_out_with_it(tmp_path: Path) -> None:
    """Records are never altered: the page that also holds a withheld item is left out, and so
    is every revisit of it (a revisit without its original would not be self-contained)."""
    from archiver.requests.package.model import Withholding

    h = Harness(tmp_path, "mastodon")
    try:
        _whole(h)
        _whole(h)
        item_id, revisit_ptr, version = _revisit_observation(h)
        with h.app.catalog.session() as s:
            neighbours = [i.item_id for i in s.scalars(select(t.Item))
                          if i.item_id != item_id and i.versions[0].warc_offset == version.warc_offset
                          and i.versions[0].warc_file == version.warc_file]
        assert neighbours, "the test needs a second item in the same page"
        withheld = Withholding(neighbours[0], "RCW 42.56.290", "records.officer", datetime.now(UTC))
        init_export_key(h.app)
        out = tmp_path / "package"
        req = _export_request([item_id, neighbours[0]])
        summary = build_package(h.app, ExportRequest(**{**req.__dict__, "withheld": (withheld,)}), out)
        left_out = {lo.record_id: lo.reason for lo in summary.left_out}
        assert version.warc_record_id in left_out and revisit_ptr.record_id in left_out
        assert left_out[revisit_ptr.record_id] == "a revisit of a record that is left out"
        warc = out / "data" / "records.warc.gz"
        _warcio_check(warc)
        assert verify_package(out).ok
        with open(warc, "rb") as fh:
            exported = {r.pointer.record_id: r for r in iter_records(fh, "records.warc.gz")}
        for r in exported.values():
            if r.rec_type == "revisit":
                assert r.headers["WARC-Refers-To"] in exported
    finally:
        h.close()


def test_a_destroyed_original_is_one_line_for_rebuild_and_export(tmp_path: Path) -> None:
    h = Harness(tmp_path, "mastodon")
    try:
        first, _second = _whole(h), _whole(h)
        item_id, revisit_ptr, _version = _revisit_observation(h)
        gone = first.warcs[0]
        # the object and its catalog row go, as retention destroys them (its stored_payloads
        # rows are left behind here: the capture must not hand them to a session anyway)
        with h.app.catalog.session() as s:
            key = s.scalar(select(t.WarcFile.store_key).where(t.WarcFile.name == gone))
            s.execute(delete(t.WarcFile).where(t.WarcFile.name == gone))
            assert s.scalar(select(t.StoredPayload.id).where(t.StoredPayload.warc_file == gone))
            assert all(p.pointer.filename != gone for p in stored_payloads(s, h.account.id).values())
        (h.home / "store" / key).unlink()  # past its retain-until date: the object is gone

        with pytest.raises(UnresolvedRevisit) as caught:
            h.app.warc_reader().record(revisit_ptr)
        assert "\n" not in caught.value.message and "destroyed under retention" in caught.value.message

        report = rebuild(h.app)  # no crash: the revisits are warnings in the rebuilt catalog
        assert report.complete
        warnings = next(d for d in report.diffs if d.table == "capture_warnings")
        assert warnings.only_rebuilt and all(w[1] == "revisit-unresolved" for w in warnings.only_rebuilt)

        init_export_key(h.app)
        out = tmp_path / "package"
        summary = build_package(h.app, _export_request([item_id]), out)
        assert any("no longer stored" in w and "\n" not in w for w in summary.warnings)
        _warcio_check(out / "data" / "records.warc.gz")
        verdict = verify_package(out)
        assert verdict.ok, verdict.problems

        # the next poll refers to nothing destroyed: full responses again, all readable
        third = _whole(h)
        for r in _records(h, third.warcs[0]):
            if r.rec_type == "revisit":
                h.app.warc_reader().record(r.pointer)
        assert os.path.exists(h.home)
    finally:
        h.close()


def test_rebuild_of_an_archive_with_revisits_written_across_rolled_files(tmp_path: Path) -> None:
    """Small WARC files: the second poll's revisits refer back into several stored objects."""
    h = Harness(tmp_path, "mastodon")
    h.app.settings.capture.warc_max_bytes = 4096  # below the setting's floor, for this test only
    try:
        first, second = _whole(h), _whole(h)
        assert len(first.warcs) > 1 and len(second.warcs) > 1
        revisits = [r for name in second.warcs for r in _records(h, name) if r.rec_type == "revisit"]
        assert revisits and {r.headers["X-Archiver-Refers-To-Location"].split("#")[0] for r in revisits} \
            <= set(first.warcs)
        with h.app.catalog.session() as s:
            assert s.scalar(select(t.CaptureWarning.id)) is None  # every revisit resolved
        report = rebuild(h.app)
        assert report.complete and report.equal, [d for d in report.diffs if not d.equal]
    finally:
        h.close()


def test_the_spool_recovery_resolves_revisits_of_a_capture_cut_short(tmp_path: Path) -> None:
    """Killed after sealing, before storing: the next start indexes the WARC from the spool,
    its revisits resolved against the stored objects like the live path does."""
    h = Harness(tmp_path, "mastodon")
    try:
        first = _whole(h)
        outbox = h.poller.outbox
        stored = outbox.store_sealed

        def killed(*args: object, **kwargs: object) -> None:
            raise SystemExit("killed before the upload")

        outbox.store_sealed = killed  # type: ignore[method-assign,assignment]
        with pytest.raises(SystemExit):
            _whole(h)
        outbox.store_sealed = stored  # type: ignore[method-assign]
        report = h.poller.recover()
        assert len(report.indexed) == 1
        recovered = report.indexed[0]
        assert any(r.rec_type == "revisit" for r in _records(h, recovered))
        with h.app.catalog.session() as s:
            assert s.scalar(select(t.CaptureWarning.id)) is None  # every revisit resolved
            seen_again = list(s.scalars(select(t.Observation).where(t.Observation.warc_file == recovered)))
            versions = list(s.scalars(select(t.ItemVersion)))
        assert seen_again and all(v.warc_file == first.warcs[0] for v in versions)
        assert rebuild(h.app).equal
    finally:
        h.close()
