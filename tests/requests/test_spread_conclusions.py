"""A request spread over many accounts' WARCs: the archiver's conclusions (the metadata records
of edits and deletions, which have no catalog rows) are found without inflating the records
the catalog already places, and the package is the one a read of every record gives (issue 10)."""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.app import App
from archiver.catalog import tables as t
from archiver.core.models import AccountRef, CapturedExchange, Item, ParseWarning
from archiver.core.settings import Settings
from archiver.preservation.reading import StoredWarc
from archiver.requests.package import records as records_module
from archiver.requests.package import stored as stored_module
from archiver.requests.package.build import build_package
from archiver.requests.package.gather import KnownRecords
from archiver.requests.package.model import ExportRequest, Withholding
from archiver.services.keys import init_export_key
from archiver.warc.fields import OBSERVATION
from bench.synthetic import generate
from tests.conftest import _pg_database

ACCOUNTS = 3


@dataclass(frozen=True)
class Spread:
    home: Path
    url: str
    items: tuple[str, ...]  # every edited or deleted item of every account
    edits: dict[str, set[str]]  # WARC-Record-ID of a later version's response -> its item(s)
    deletions: set[str]  # metadata_record_id of every tombstone
    placed: set[tuple[str, int]]  # (file, offset) of every record a catalog row points at
    harvest_end: dict[str, int]  # per file: end of the last version or observation record


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def spread(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spread]:
    root = tmp_path_factory.mktemp(f"spread-{request.param}")
    urls = iter([f"sqlite:///{root / 'catalog.sqlite'}"]) if request.param == "sqlite" else _pg_database()
    url = next(urls)
    config = root / "archiver.toml"
    config.write_text("")
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("ARCHIVER_") and k != "ARCHIVER_TEST_PG_URL"]:
            mp.delenv(key)
        mp.setenv("ARCHIVER_CONFIG", str(config))
        app = App(Settings(home=root / "home", database_url=url))
        try:
            generate(app, items=600, accounts=ACCOUNTS, seed=3)
            init_export_key(app)
            yield _facts(app, root / "home", url)
        finally:
            app.close()
            next(urls, None)  # drops the PostgreSQL database


def _facts(app: App, home: Path, url: str) -> Spread:
    with app.catalog.session() as s:
        edited = set(s.scalars(select(t.Item.item_id).where(t.Item.version_count > 1)))
        deleted = set(s.scalars(select(t.Item.item_id).where(t.Item.deleted_at.is_not(None))))
        edits: dict[str, set[str]] = {}
        for record_id, item_id in s.execute(
                select(t.ItemVersion.warc_record_id, t.Item.item_id).join(t.Item)
                .where(t.ItemVersion.version_no > 1)):
            edits.setdefault(record_id, set()).add(item_id)
        deletions = set(s.scalars(select(t.Tombstone.metadata_record_id)))
        placed: set[tuple[str, int]] = set()
        harvest_end: dict[str, int] = {}
        for table in (t.ItemVersion, t.Observation):
            for name, offset, length in s.execute(select(table.warc_file, table.warc_offset, table.warc_length)):
                placed.add((name, offset))
                harvest_end[name] = max(harvest_end.get(name, 0), offset + length)
        placed |= {(f, o) for f, o in s.execute(select(t.Tombstone.evidence_file, t.Tombstone.evidence_offset))}
        placed |= {(f, o) for f, o in s.execute(select(t.StoredPayload.warc_file, t.StoredPayload.warc_offset))}
        placed |= {(f, o) for f, o in s.execute(select(t.MediaCapture.warc_file, t.MediaCapture.warc_offset))}
    return Spread(home, url, tuple(sorted(edited | deleted)), edits, deletions, placed, harvest_end)


def _request(spread: Spread) -> ExportRequest:
    return ExportRequest(
        request_id="PRR-2026-0100", requester="Pat Reporter", received=date(2026, 12, 1),
        due=date(2026, 12, 8), description="Every edited or deleted comment", state="WA",
        district="Riverside School District", item_ids=spread.items, redactions=(), withheld=(),
        searches=(),
    )


@dataclass(frozen=True)
class Export:
    members: list[bytes]  # records.warc.gz, one gzip member each, the export's own warcinfo first
    inflated: list[tuple[str, int]]  # (file, offset) of every stored record inflated on the way
    opened: list[str]  # every stored WARC opened (its vault header and a segment read), in order
    planned: set[tuple[str, int]]  # (file, offset) of every record the export copied or considered


def _export(spread: Spread, out: Path, mp: pytest.MonkeyPatch) -> Export:
    inflated: list[tuple[str, int]] = []
    real = stored_module.member_at

    def counting(obj: stored_module.StoredRanges, offset: int) -> stored_module.MemberHead:
        inflated.append((obj.warc.name, offset))
        return real(obj, offset)

    mp.setattr(stored_module, "member_at", counting)  # the scan's
    mp.setattr(records_module, "member_at", counting)  # the copy's (records of unknown length)
    opened: list[str] = []
    real_init = stored_module.StoredRanges.__init__

    def opening(self: stored_module.StoredRanges, app: App, warc: StoredWarc) -> None:
        opened.append(warc.name)
        real_init(self, app, warc)

    mp.setattr(stored_module.StoredRanges, "__init__", opening)
    plans: list[records_module.RecordPlan] = []
    real_plan = records_module.plan_records

    def keep_plan(g: records_module.Gathered) -> records_module.RecordPlan:
        plans.append(real_plan(g))  # the copier adds the conclusions it finds to it
        return plans[-1]

    mp.setattr("archiver.requests.package.build.plan_records", keep_plan)
    app = App(Settings(home=spread.home, database_url=spread.url))
    try:
        build_package(app, _request(spread), out)
    finally:
        app.close()
    planned = {(name, offset) for plan in plans for name, records in plan.by_file.items() for offset in records}
    return Export(_members((out / "data" / "records.warc.gz").read_bytes()), inflated, opened, planned)


def _members(data: bytes) -> list[bytes]:
    """The gzip members of a WARC, as bytes: where each record starts and ends."""
    offsets: list[int] = []
    it = ArchiveIterator(io.BytesIO(data))
    for record in it:
        record.content_stream().read()
        offsets.append(it.get_record_offset())
    offsets.append(len(data))
    return [data[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]


def _records(members: list[bytes]) -> list[tuple[str, dict[str, str], str]]:
    out = []
    for member in members:
        record = next(iter(ArchiveIterator(io.BytesIO(member))))
        body = record.content_stream().read().decode("utf-8", "replace")
        out.append((record.rec_type, dict(record.rec_headers.headers), body))
    return out


def _read_everything(mp: pytest.MonkeyPatch) -> None:
    """The reference: the catalog places nothing, so every record from the first wanted one is
    inflated, as the export did before it used the catalog's places."""
    mp.setattr(records_module, "known_records", lambda app, g, names: {})
    mp.setattr(records_module, "records_of_file", lambda app, g, name: KnownRecords())


def test_a_page_with_several_edited_items_is_in_the_fixture(spread: Spread) -> None:
    """Several edited items on one listing page: their conclusions all refer to that page."""
    assert any(len(items) > 1 for items in spread.edits.values())
    assert len({f for f, _ in spread.placed}) == 2 * ACCOUNTS


def test_every_conclusion_is_in_the_package_and_names_its_own_item(
        spread: Spread, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        got = _records(_export(spread, tmp_path / "pkg", mp).members)
    notes = [(h, body) for kind, h, body in got if kind == "metadata"]
    named: Counter[tuple[str, str]] = Counter()
    for headers, body in notes:
        fields = dict(line.split(": ", 1) for line in body.strip().split("\r\n"))
        if fields[OBSERVATION] == "edited":
            concurrent = headers["WARC-Concurrent-To"]
            assert fields["item-id"] in spread.edits[concurrent]  # the note is about this item
            named[(concurrent, fields["item-id"])] += 1
    wanted = {(rid, item) for rid, items in spread.edits.items() for item in items}
    assert set(named) == wanted and set(named.values()) == {1}
    assert spread.deletions <= {h["WARC-Record-ID"] for h, _ in notes}


def test_the_search_inflates_no_record_the_catalog_places_nor_the_harvest(
        spread: Spread, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        export = _export(spread, tmp_path / "pkg", mp)
    inflated = set(export.inflated)
    assert len(inflated) == len(export.inflated)  # no record inflated twice
    assert not inflated & spread.placed
    # Before a file's harvest end only records the package copies whose length the catalog
    # lacks (the request after each response, the file's warcinfo) are inflated: the
    # conclusions are searched for after it.
    early = {(f, o) for f, o in inflated if o < spread.harvest_end.get(f, 0)}
    assert early <= export.planned
    assert len(export.inflated) < 2 * len(export.members)
    # each WARC opened once: its conclusions found and its records copied from one reading
    assert sorted(export.opened) == sorted(set(export.opened)) and len(export.opened) == 2 * ACCOUNTS


def test_the_package_is_the_one_a_read_of_every_record_gives(spread: Spread, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        fast = _export(spread, tmp_path / "fast", mp)
    with pytest.MonkeyPatch.context() as mp:
        _read_everything(mp)
        slow = _export(spread, tmp_path / "slow", mp)
    assert fast.members[1:] == slow.members[1:]  # every copied record, byte for byte, in order
    assert len(slow.inflated) > 3 * len(fast.inflated)  # the reference did read the files through


@pytest.mark.parametrize("fault", ["harvest end too late", "length not at a boundary"])
def test_a_wrong_guess_falls_back_to_reading_the_file(spread: Spread, tmp_path: Path, fault: str) -> None:
    """A record the catalog places after the edit conclusions (an item confirmed present after
    the listing), or a length that does not end a record: the file is read through instead."""
    with pytest.MonkeyPatch.context() as mp:
        fast = _export(spread, tmp_path / "fast", mp)
    real: Callable[..., dict[str, KnownRecords]] = records_module.known_records

    def misled(app: App, g: records_module.Gathered, names: list[str]) -> dict[str, KnownRecords]:
        known = real(app, g, names)
        for info in known.values():
            if fault == "harvest end too late":
                # past the last deletion evidence: after every edit conclusion of the cycle
                info.harvest_end = max((o + n for o, n in info.lengths.items()), default=info.harvest_end)
            else:
                info.lengths = {offset: length + 1 for offset, length in info.lengths.items()}
        return known

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(records_module, "known_records", misled)
        wrong = _export(spread, tmp_path / "wrong", mp)
    assert wrong.members[1:] == fast.members[1:]


def test_pages_are_parsed_again_only_when_an_item_is_withheld(spread: Spread, tmp_path: Path) -> None:
    """A copied page holding a withheld item is left out, which takes the connector's parse of
    it; with nothing withheld there is nothing to look for (13% of a spread export's CPU)."""
    parses: list[str] = []
    real = App.connector

    def counting(app: App, platform: str) -> object:
        connector = real(app, platform)
        parse = connector.parse

        def parse_counted(account: AccountRef, exchange: CapturedExchange) -> Iterator[Item | ParseWarning]:
            parses.append(platform)
            return parse(account, exchange)

        connector.parse = parse_counted  # type: ignore[method-assign]
        return connector

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(App, "connector", counting)
        _export(spread, tmp_path / "open", mp)
    assert parses == []
    page, items = next((rid, sorted(i)) for rid, i in spread.edits.items() if len(i) > 1)
    withheld = Withholding(items[0], "RCW 42.56.290", "records.officer",
                           datetime(2026, 12, 2, tzinfo=UTC))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(App, "connector", counting)
        app = App(Settings(home=spread.home, database_url=spread.url))
        try:
            summary = build_package(app, replace(_request(spread), withheld=(withheld,)), tmp_path / "held")
        finally:
            app.close()
    assert parses
    left_out = {lo.record_id: lo.reason for lo in summary.left_out}
    assert left_out[page] == "holds a withheld item"  # the page it shares with a released item
