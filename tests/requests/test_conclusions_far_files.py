"""A capture run that rolled its WARC after almost every record: an edit's conclusion (the
metadata record written at the end of the cycle) lands many files after the page it concerns.
The export finds it in whichever file of the run holds it, and opens no file that another run
wrote (issue 10: a conclusion more than 3 files after its page used to give only a warning)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.catalog import tables as t
from archiver.requests.package import records as records_module
from archiver.requests.package.build import build_package
from archiver.requests.package.gather import later_files_of_run
from archiver.requests.package.model import ExportRequest
from archiver.requests.package.records import CopyResult
from archiver.services.keys import init_export_key
from tests.harness import Harness


def _request(items: tuple[str, ...]) -> ExportRequest:
    return ExportRequest(
        request_id="PRR-2026-0102", requester="Pat Reporter", received=date(2026, 12, 1),
        due=date(2026, 12, 8), description="Edited items", state="WA",
        district="Riverside School District", item_ids=items, redactions=(), withheld=(), searches=(),
    )


def test_a_conclusion_many_files_after_its_page_is_found_in_the_runs_files_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(tmp_path, "facebook", settings={"vault": {"segment_size": 4096}})
    h.app.settings.capture.warc_max_bytes = 1  # below the setting's floor: a new file per record
    try:
        assert h.poll().status == "complete"
        for cycle in (2, 3):
            h.sandbox.before_cycle(cycle)
            assert h.poll().status == "complete"
        init_export_key(h.app)
        with h.app.catalog.session() as s:
            edited = tuple(sorted(s.scalars(select(t.Item.item_id).where(t.Item.version_count > 1))))
            files = {w.name: w.run_id for w in s.scalars(select(t.WarcFile))}
            pages = {w for w in s.scalars(select(t.ItemVersion.warc_file).where(t.ItemVersion.version_no > 1))}
            item_pks = select(t.Item.id).where(t.Item.item_id.in_(edited))
            record_files = set(s.scalars(select(t.ItemVersion.warc_file).where(t.ItemVersion.item_pk.in_(item_pks))))
            record_files |= set(s.scalars(select(t.Observation.warc_file).where(t.Observation.item_pk.in_(item_pks))))
        assert edited
        # the run that wrote an edit's page wrote more files after it than the search once
        # looked at (three), and other runs wrote files too
        runs_of_pages = {files[p] for p in pages}
        assert max(sum(1 for n, r in files.items() if r == files[p] and n > p) for p in pages) > 3
        assert set(files.values()) - runs_of_pages

        # the run's later files, each once, in the order written, read a few at a time
        for page in pages:
            run = files[page]
            later = [w.name for w in later_files_of_run(h.app, page, run, batch=2)]
            assert later == sorted(n for n, r in files.items() if r == run and n > page)

        opened: list[str] = []
        real_ranges = records_module.StoredRanges

        def ranges(app: object, warc: object) -> object:
            opened.append(warc.name)  # type: ignore[attr-defined]
            return real_ranges(app, warc)  # type: ignore[arg-type]

        results: list[CopyResult] = []
        real_copy = records_module.copy_records

        def keep(*args: object, **kwargs: object) -> CopyResult:
            results.append(real_copy(*args, **kwargs))  # type: ignore[arg-type]
            return results[-1]

        monkeypatch.setattr(records_module, "StoredRanges", ranges)
        monkeypatch.setattr("archiver.requests.package.build.copy_records", keep)
        summary = build_package(h.app, _request(edited), tmp_path / "pkg")
    finally:
        h.close()
    assert not summary.warnings, summary.warnings
    edits = [r for r in results[0].records if "edit-conclusion" in r.roles]
    assert {key for r in edits for key in r.items} == {("facebook", i) for i in edited}

    def gap(conclusion_file: str) -> int:
        """Files of the run from the last page before the conclusion to the conclusion's file."""
        run = files[conclusion_file]
        page = max(p for p in pages if files[p] == run and p < conclusion_file)
        return sum(1 for n, r in files.items() if r == run and page < n <= conclusion_file)

    assert max(gap(r.source) for r in edits) > 3  # farther than the search once looked
    # besides the files holding the items' records, only files of the runs that wrote the
    # edited pages were opened (the search never reads another run's files)
    extra = set(opened) - record_files
    assert extra and {files[name] for name in extra} <= runs_of_pages
