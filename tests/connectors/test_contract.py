"""The connector contract: one suite, every connector, each against its sandbox over HTTP.

A platform joins by adding one line to connectors.CONNECTORS and a ContractSandbox adapter;
these tests then hold it to the same promises as every other connector.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.core.errors import NeedsAttention
from archiver.core.models import AccountRef, Item
from archiver.warc.reader import iter_records
from connectors import CONNECTORS, make_connector
from tests.harness import Harness

PLATFORMS = sorted(CONNECTORS)


@pytest.fixture(params=PLATFORMS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, request.param)
    yield h
    h.close()


def _stored_bytes(h: Harness) -> bytes:
    return b"".join(p.read_bytes() for p in h.warc_files())


def test_first_poll_captures_every_live_item(harness: Harness) -> None:
    report = harness.poll()
    assert report.status == "complete", report.message
    expected = harness.sandbox.live_item_ids(harness.seed.account_id)
    assert len(expected) >= 3
    assert set(harness.items()) == expected
    assert report.new == len(expected)


def test_items_parse_back_identically_from_the_stored_warc(harness: Harness) -> None:
    harness.poll()
    connector = make_connector(harness.platform)
    ref = AccountRef(harness.platform, harness.seed.account_id, api_base=harness.server.url)
    parsed: dict[str, Item] = {}
    for path in harness.warc_files():
        with open(path, "rb") as fh:
            for record in iter_records(fh, path.name):
                if record.rec_type == "response" and "X-Archiver-Purpose" not in record.headers:
                    for item in connector.parse(ref, record.exchange()):
                        if isinstance(item, Item):
                            parsed.setdefault(item.item_id, item)
    catalog = harness.items()
    assert set(parsed) == set(catalog)
    for item_id, item in parsed.items():
        assert catalog[item_id].versions[0].content_sha256 == item.content_sha256
        assert catalog[item_id].kind == str(item.kind)


def test_edit_makes_a_new_version_and_unchanged_items_do_not(harness: Harness) -> None:
    harness.poll()
    target = sorted(harness.sandbox.live_item_ids(harness.seed.account_id))[0]
    harness.sandbox.edit(target)
    # Any item of any age: an incremental connector finds an edit nothing signals (an old
    # video's title, a comment's text) when its sweep comes round, or at once with --reconcile
    # (tests/capture/test_incremental.py holds each to its window); a full connector reads all.
    (report,) = harness.poller.poll(harness.account.label, reconcile=True)
    assert report.edited == 1, report
    items = harness.items()
    assert len(items[target].versions) == 2
    assert all(len(i.versions) == 1 for k, i in items.items() if k != target)


def test_new_item_is_found_on_the_next_poll(harness: Harness) -> None:
    harness.poll()
    new_id = harness.sandbox.publish(harness.seed.account_id)
    report = harness.poll()
    assert new_id in harness.items()
    assert report.new >= 1


def test_deletion_becomes_a_tombstone_with_evidence(harness: Harness) -> None:
    harness.poll()
    live = harness.sandbox.live_item_ids(harness.seed.account_id)
    items = harness.items()
    victim = sorted(i for i in live if items[i].kind == "post")[0]
    harness.sandbox.delete(victim)
    report = harness.poll()
    assert victim in set(report_deleted(harness))
    assert report.deleted >= 1
    tomb = harness.items()[victim].tombstone
    assert tomb is not None and tomb.evidence_record_id and tomb.last_good_record_id
    # The evidence is a response record in a stored WARC, and it is not a 200.
    evidence = None
    for path in harness.warc_files():
        with open(path, "rb") as fh:
            for record in iter_records(fh, path.name):
                if record.pointer.record_id == tomb.evidence_record_id:
                    evidence = record
    assert evidence is not None and evidence.rec_type == "response"
    # Some APIs say "gone" with a 200 (X's errors array, TikTok's empty list): either way the
    # evidence must not show the item.
    connector = make_connector(harness.platform)
    ref = AccountRef(harness.platform, harness.seed.account_id, api_base=harness.server.url)
    shown = [i.item_id for i in connector.parse(ref, evidence.exchange()) if isinstance(i, Item)]
    assert victim not in shown


def report_deleted(h: Harness) -> list[str]:
    return [k for k, v in h.items().items() if v.tombstone is not None]


def test_throttle_is_waited_out_and_the_cycle_completes(harness: Harness) -> None:
    harness.sandbox.throttle_next(1)
    report = harness.poll()
    assert report.status == "complete", report.message
    assert set(harness.items()) == harness.sandbox.live_item_ids(harness.seed.account_id)


def test_expired_token_needs_attention_and_marks_nothing_deleted(harness: Harness) -> None:
    harness.poll()
    harness.sandbox.expire_token(harness.seed.token)
    report = harness.poll()
    assert isinstance(report.error, NeedsAttention)
    assert report.deleted == 0 and not report_deleted(harness)
    with harness.app.catalog.session() as s:
        from archiver.catalog import tables as t

        account = s.get(t.Account, harness.account.id)
        assert account.status == "needs-attention"
        assert "token" in account.status_message.lower()


def test_no_secret_reaches_any_warc(harness: Harness) -> None:
    harness.poll()
    harness.sandbox.delete(sorted(harness.sandbox.live_item_ids(harness.seed.account_id))[0])
    harness.poll()
    data = _stored_bytes(harness)
    import gzip

    plain = gzip.decompress(data)
    assert harness.seed.token and harness.seed.token.encode() not in plain
    assert b"Authorization:" not in plain


def test_every_warc_passes_warcio_check_and_reads_back(harness: Harness) -> None:
    harness.poll()
    harness.sandbox.edit(sorted(harness.sandbox.live_item_ids(harness.seed.account_id))[0])
    harness.poll()
    paths = harness.warc_files()
    assert paths
    result = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for path in paths:
        with open(path, "rb") as fh:
            types = [r.rec_type for r in ArchiveIterator(fh)]
        assert types[0] == "warcinfo" and "response" in types and "request" in types
