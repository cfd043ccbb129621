"""A capture run whose WARC rolled over between an item's page and the cycle's conclusions:
the export finds the conclusions in the run's later files, and copies every record in the
order planning them all first gives (stored file by file, by offset)."""

from __future__ import annotations

from datetime import UTC, date
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.requests.package import records as records_module
from archiver.requests.package.build import build_package
from archiver.requests.package.model import ExportRequest
from archiver.requests.package.records import CopyResult
from archiver.services.keys import init_export_key
from tests.harness import Harness


def _request(items: tuple[str, ...]) -> ExportRequest:
    return ExportRequest(
        request_id="PRR-2026-0101", requester="Pat Reporter", received=date(2026, 12, 1),
        due=date(2026, 12, 8), description="Edited and deleted items", state="WA",
        district="Riverside School District", item_ids=items, redactions=(), withheld=(), searches=(),
    )


def test_conclusions_in_later_files_of_the_run_and_the_record_order(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(tmp_path, "facebook", settings={"vault": {"segment_size": 4096}})
    h.app.settings.capture.warc_max_bytes = 8_000  # below the setting's floor: rolls mid-cycle
    try:
        assert h.poll().status == "complete"
        for cycle in (2, 3):
            h.sandbox.before_cycle(cycle)
            assert h.poll().status == "complete"
        init_export_key(h.app)
        with h.app.catalog.session() as s:
            edited = set(s.scalars(select(t.Item.item_id).where(t.Item.version_count > 1)))
            deleted = set(s.scalars(select(t.Item.item_id).where(t.Item.deleted_at.is_not(None))))
            later = {rid: f for rid, f in s.execute(select(t.ItemVersion.warc_record_id, t.ItemVersion.warc_file)
                                                    .where(t.ItemVersion.version_no > 1))}
            order = {w.name: (w.first_date.replace(tzinfo=UTC) if w.first_date.tzinfo is None else w.first_date,
                              w.name) for w in s.scalars(select(t.WarcFile))}
            runs = {w.name: w.run_id for w in s.scalars(select(t.WarcFile))}
        assert edited and deleted and len(set(runs.values())) < len(runs)  # runs of several files

        results: list[CopyResult] = []
        real_copy = records_module.copy_records

        def keep(*args: object, **kwargs: object) -> CopyResult:
            results.append(real_copy(*args, **kwargs))  # type: ignore[arg-type]
            return results[-1]

        monkeypatch.setattr("archiver.requests.package.build.copy_records", keep)
        summary = build_package(h.app, _request(tuple(sorted(edited | deleted))), tmp_path / "pkg")
    finally:
        h.close()
    copied = results[0]
    # an edit conclusion was found in another file than the page it concerns (the run rolled)
    places = {record.record_id: source for (source, _), record in copied.by_source.items()}
    edits = [r for r in copied.records if "edit-conclusion" in r.roles]
    assert edits and any(places[r.record_id] != later[_concurrent(tmp_path, r)] for r in edits)
    assert not summary.warnings
    # file by file in order, by offset within a file; a revisit's original (and its file's
    # warcinfo) is copied when its revisit is, wherever that is
    at = {id(record): key for key, record in copied.by_source.items()}
    planned = [at[id(r)] for r in copied.records if "revisit-original" not in r.roles]
    in_order = [key for key in planned if not _on_demand_warcinfo(key, copied)]
    assert in_order == sorted(in_order, key=lambda k: (order[k[0]], k[1]))


def _on_demand_warcinfo(key: tuple[str, int], copied: CopyResult) -> bool:
    """The warcinfo of a file copied only because a revisit's original lies there."""
    return key[1] == 0 and any("revisit-original" in r.roles and r.source == key[0] for r in copied.records)


def _concurrent(tmp_path: Path, record: records_module.CopiedRecord) -> str:
    """The WARC-Concurrent-To of a copied conclusion, read back from the package."""
    import gzip
    import io

    data = (tmp_path / "pkg" / "data" / "records.warc.gz").read_bytes()[record.offset:record.offset + record.length]
    head = gzip.GzipFile(fileobj=io.BytesIO(data)).read().split(b"\r\n\r\n", 1)[0].decode()
    return dict(line.split(": ", 1) for line in head.split("\r\n")[1:])["WARC-Concurrent-To"]
