"""The public records export package, built from a real capture of the Facebook sandbox (edits,
deletions, a hostile comment, a student's name) and checked the way a requester would: bagit,
`warcio check`, `wacz validate`, headless Chromium, PDF text, and `archiver export verify`.

One archive and one package are built per module; tests that damage something work on copies.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.app import App
from archiver.catalog import tables as t
from archiver.cli.main import cli
from archiver.core.errors import IntegrityError, RequestError
from archiver.core.settings import Settings
from archiver.requests.package.build import build_package
from archiver.requests.package.model import ExportRequest, Redaction, Withholding
from archiver.requests.package.results import PackageSummary
from archiver.requests.package.verify import verify_package
from archiver.services.keys import init_export_key
from tests.harness import Harness

HOSTILE = ("<script>alert('x')</script> call 555-123-4567 \u202eevil\u202c "
           "\U0001F600\U0001F469\u200d\U0001F469\u200d\U0001F467 \u05e9\u05dc\u05d5\u05dd <b>bold</b>")
HOSTILE_AUTHOR = "Hostile <img src=x onerror=alert(1)>"
STUDENT = "Jordan Smith"
PHONE = "555-123-4567"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Archive:
    home: Path
    marks: dict[str, str]
    hostile: str
    student_comment: str


def _isolated(mp: pytest.MonkeyPatch, root: Path) -> None:
    for key in [k for k in os.environ if k.startswith("ARCHIVER_") and k != "ARCHIVER_TEST_PG_URL"]:
        mp.delenv(key)
    config = root / "archiver.toml"
    config.write_text("")
    mp.setenv("ARCHIVER_CONFIG", str(config))
    mp.setenv("ARCHIVER_DISTRICT", "Test School District")
    mp.setenv("ARCHIVER_STATE", "WA")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    root = tmp_path_factory.mktemp("export-archive")
    with pytest.MonkeyPatch.context() as mp:
        _isolated(mp, root)
        h = Harness(root, "facebook", settings={"vault": {"segment_size": 4096}})
        try:
            assert h.poll().status == "complete"
            timeline, sb = h.sandbox, h.sandbox.sandbox
            timeline.before_cycle(2)
            hostile = sb.comment(timeline.marks["recent2"], HOSTILE, author=(HOSTILE_AUTHOR, "900009"))
            student = sb.comment(timeline.marks["recent0"], f"My son {STUDENT} rides bus 12 every day.",
                                 author=(STUDENT, "900010"))
            assert h.poll().status == "complete"
            timeline.before_cycle(3)
            assert h.poll().status == "complete"
            init_export_key(h.app)
        finally:
            h.close()
        yield Archive(h.home, dict(timeline.marks), hostile, student)


def _app(home: Path) -> App:
    return App(Settings(home=home))


def _request(archive: Archive, **changes: object) -> ExportRequest:
    """The threads of the three recent posts: edits, deletions, comments and replies."""
    m = archive.marks
    roots = {m["recent0"], m["recent1"], m["recent2"]}
    app = _app(archive.home)
    try:
        with app.catalog.session() as s:
            rows = list(s.scalars(select(t.Item)))
    finally:
        app.close()
    parents = {r.item_id: r.parent_id for r in rows}

    def root_of(item: str) -> str:
        while parents.get(item):
            item = parents[item]  # type: ignore[assignment]
        return item

    ids = tuple(sorted(r.item_id for r in rows if root_of(r.item_id) in roots))
    now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    withheld_id = next(r.item_id for r in rows if r.parent_id == m["recent2"]
                       and r.item_id not in (archive.hostile, m["recent2_first"]) and not any(
                           c.parent_id == r.item_id for c in rows))
    req = ExportRequest(
        request_id="PRR-2026-0042",
        requester="Pat Reporter",
        received=date(2026, 12, 1),
        due=date(2026, 12, 8),
        description="Every comment about the <b>bus</b> contract since March",
        state="WA",
        district="Riverside School District",
        item_ids=ids,
        redactions=(
            Redaction(archive.hostile, PHONE, "RCW 42.56.230(1)", "records.officer", now),
            Redaction(archive.student_comment, STUDENT, "FERPA, 20 U.S.C. 1232g", "records.officer", now),
        ),
        withheld=(Withholding(withheld_id, "RCW 42.56.290", "records.officer", now),),
        searches=(f'bus OR contract OR "{STUDENT}"',),
    )
    return replace(req, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Built:
    path: Path
    summary: PackageSummary
    request: ExportRequest
    progress: list[tuple[int, int]]


@pytest.fixture(scope="module")
def built(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("export-package") / "PRR-2026-0042"
    req = _request(archive)
    calls: list[tuple[int, int]] = []
    app = _app(archive.home)
    with pytest.MonkeyPatch.context() as mp:
        _isolated(mp, out.parent)

        def no_whole_object(*args: object, **kwargs: object) -> None:
            raise AssertionError("the export decrypted a whole object")

        mp.setattr("archiver.preservation.reading.decrypt_stream", no_whole_object)
        try:
            summary = build_package(app, req, out, progress=lambda done, total: calls.append((done, total)))
        finally:
            app.close()
    return Built(out, summary, req, calls)


def _copy(built: Built, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(built.path, target)
    return target


def _warc_records(path: Path) -> list[tuple[str, str, dict[str, str]]]:
    with open(path, "rb") as fh:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"), dict(r.rec_headers.headers))
                for r in ArchiveIterator(fh)]


def _release_text(built: Built) -> str:
    """Every readable file of the package as text, the PDF's extracted text included."""
    from pypdf import PdfReader

    parts = []
    data = built.path / "data"
    for path in sorted((data / "reading").glob("*.html")):
        parts.append(path.read_text("utf-8"))
    for name in ("index.csv", "index.json", "redaction-log.csv"):
        parts.append((data / name).read_text("utf-8"))
    reader = PdfReader(str(data / "reading" / "records.pdf"))
    parts.append("\n".join(page.extract_text() or "" for page in reader.pages))
    return "\n".join(parts)


# --- the bag and the standard tools ----------------------------------------------------------


def test_package_is_a_valid_bagit_1_0_bag_with_both_manifests(built: Built) -> None:
    bag = bagit.Bag(str(built.path))
    bag.validate(processes=1)
    assert bag.version_info == (1, 0)
    assert set(bag.algorithms) == {"sha256", "sha512"}
    assert bag.info["External-Identifier"] == "PRR-2026-0042"
    assert bag.info["Source-Organization"] == "Riverside School District"
    assert bag.info["Request-Received"] == "2026-12-01" and bag.info["Request-Due"] == "2026-12-08"
    payload = {p for p in bag.payload_files()}
    for name in ("data/records.warc.gz", "data/records.wacz", "data/reading/index.html",
                 "data/reading/records.pdf", "data/index.csv", "data/index.json",
                 "data/redaction-log.csv"):
        assert name in payload
    assert (built.path / "export-key.pem").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_warc_passes_warcio_check_and_keeps_original_ids_and_bytes(built: Built, archive: Archive) -> None:
    warc = built.path / "data" / "records.warc.gz"
    run = subprocess.run([str(BIN / "warcio"), "check", "-v", str(warc)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "digest pass" in run.stdout
    records = _warc_records(warc)
    assert records[0][0] == "warcinfo"  # the export's own, then the originals
    # Each copied record is byte-identical to the stored original (decrypted for the test only).
    app = _app(archive.home)
    try:
        originals: dict[str, bytes] = {}
        from archiver.services.warcs import warc_bytes

        with app.catalog.session() as s:
            names = list(s.scalars(select(t.WarcFile.name)))
        for name in names:
            data = b"".join(warc_bytes(app, name))
            it = ArchiveIterator(io.BytesIO(data))
            for rec in it:
                rid = rec.rec_headers.get_header("WARC-Record-ID")
                rec.content_stream().read()
                originals[rid] = data[it.get_record_offset(): it.get_record_offset() + it.get_record_length()]
    finally:
        app.close()
    data = warc.read_bytes()
    it = ArchiveIterator(io.BytesIO(data))
    copied = 0
    for rec in it:
        rid = rec.rec_headers.get_header("WARC-Record-ID")
        rec.content_stream().read()
        member = data[it.get_record_offset(): it.get_record_offset() + it.get_record_length()]
        if rid in originals:
            assert member == originals[rid], rid
            copied += 1
    assert copied == len(records) - 1


def test_warc_holds_the_items_captures_requests_and_deletion_evidence(built: Built, archive: Archive) -> None:
    records = _warc_records(built.path / "data" / "records.warc.gz")
    ids = {rid for _, rid, _ in records}
    types = [kind for kind, _, _ in records]
    assert types.count("request") >= 1 and types.count("response") >= 1
    # every request follows the response (or revisit record, issue 12) it belongs to
    responses = {rid for kind, rid, _ in records if kind in ("response", "revisit")}
    for kind, _, headers in records:
        if kind == "request":
            assert headers["WARC-Concurrent-To"] in responses
    app = _app(archive.home)
    try:
        with app.catalog.session() as s:
            deleted = s.scalar(select(t.Item).where(t.Item.item_id == archive.marks["recent1"]))
            tomb = deleted.tombstone
            edited = s.scalar(select(t.Item).where(t.Item.item_id == archive.marks["recent0"]))
            versions = [v.warc_record_id for v in edited.versions]
    finally:
        app.close()
    assert tomb.evidence_record_id in ids  # the platform's answer that the post is gone
    assert tomb.metadata_record_id in ids  # the archiver's conclusion about it
    kinds = {rid: kind for kind, rid, _ in records}
    assert kinds[tomb.metadata_record_id] == "metadata"
    assert len(versions) == 2
    left_out = {lo.record_id for lo in built.summary.left_out}
    for rid in versions:
        assert rid in ids or rid in left_out
    # the edit's conclusion (metadata concurrent to the new version's response) is included
    edit_notes = [h for kind, _, h in records if kind == "metadata"
                  and h.get("WARC-Concurrent-To") == versions[1]]
    assert edit_notes or versions[1] in left_out


def test_wacz_passes_wacz_validate_and_lists_pages(built: Built) -> None:
    wacz = built.path / "data" / "records.wacz"
    run = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(wacz)], capture_output=True, text=True)
    assert run.returncode == 0 and "valid" in run.stdout, run.stdout + run.stderr
    with zipfile.ZipFile(wacz) as zf:
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode().splitlines()]
        assert zf.getinfo("archive/records.warc.gz").compress_type == zipfile.ZIP_STORED
        assert zf.read("archive/records.warc.gz") == (built.path / "data" / "records.warc.gz").read_bytes()
        cdx = zf.read("indexes/index.cdx").decode().splitlines()
    assert pages[0]["format"] == "json-pages-1.0"
    assert len(pages) > 1 and all("url" in p and "ts" in p for p in pages[1:])
    assert cdx and all(json.loads(line.split(" ", 2)[2])["filename"] == "records.warc.gz" for line in cdx)


def test_progress_reaches_its_total(built: Built) -> None:
    done = [d for d, _ in built.progress]
    assert done == sorted(done) and built.progress[-1][0] == built.progress[-1][1] > 5


# --- what a requester reads ---------------------------------------------------------------------


def _thread_of(built: Built, item_id: str) -> Path:
    index = json.loads((built.path / "data" / "index.json").read_text("utf-8"))
    row = next(r for r in index["items"] if r["id"] == item_id)
    return built.path / "data" / "reading" / f"thread-{row['thread']:04d}.html"


def test_edits_side_by_side_and_deletions_with_their_evidence(built: Built, archive: Archive) -> None:
    page = _thread_of(built, archive.marks["recent0"]).read_text("utf-8")
    assert "<del" in page and "<ins" in page
    assert "CORRECTED" in page.split("<ins", 1)[1]  # the added word is marked in the new version
    gone = _thread_of(built, archive.marks["recent1"]).read_text("utf-8")
    assert "Deleted from the platform" in gone and "Detected <time" in gone
    app = _app(archive.home)
    try:
        with app.catalog.session() as s:
            tomb = s.scalar(select(t.Item).where(t.Item.item_id == archive.marks["recent1"])).tombstone
            evidence = tomb.evidence_record_id
    finally:
        app.close()
    assert evidence.replace("<", "&lt;").replace(">", "&gt;") in gone


def test_hostile_platform_text_shows_as_text(built: Built, archive: Archive) -> None:
    page = _thread_of(built, archive.hostile).read_text("utf-8")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "Hostile &lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "\u202e" not in page and "[RLO]" in page and "[PDF]" in page  # bidi override made visible
    assert "\U0001F600" in page and "\u05e9\u05dc\u05d5\u05dd" in page  # emoji and Hebrew as text
    for path in (built.path / "data" / "reading").glob("*.html"):
        text = path.read_text("utf-8")
        assert "<script" not in text.lower() and "<img" not in text.lower(), path.name
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        assert "http://" not in text.split("<body>", 1)[0] and "https://" not in text.split("<body>", 1)[0]


def test_redacted_strings_appear_nowhere_in_the_package(built: Built) -> None:
    text = _release_text(built)
    for secret in (PHONE, STUDENT):
        assert secret not in text
    assert "RCW 42.56.230(1)" in text and "FERPA, 20 U.S.C. 1232g" in text
    # nor in the archival copies: records that carry redacted text are left out, and listed
    data = built.path / "data"
    warc_text = gzip.decompress((data / "records.warc.gz").read_bytes()).decode("utf-8", "replace")
    for secret in (PHONE, STUDENT):
        assert secret not in warc_text
        assert secret.encode() not in (data / "records.wacz").read_bytes()
    # Left out and listed; a record that also holds a withheld item is listed for that reason
    # first (which other tests of the module ran first, under xdist, decides whether one does).
    assert any(lo.reason in ("carries redacted text", "holds a withheld item") for lo in built.summary.left_out)
    index = json.loads((data / "index.json").read_text("utf-8"))
    assert index["records_left_out"]


def test_pdf_shows_the_redaction_bar_and_exemption_not_the_text(built: Built, archive: Archive) -> None:
    from pypdf import PdfReader

    reader = PdfReader(str(built.path / "data" / "reading" / "records.pdf"))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert "\u2588" in text and "redacted R" in text
    assert "alert" in text  # the hostile comment is there, as text
    assert PHONE not in text and STUDENT not in text


def test_withheld_item_is_listed_but_its_content_and_records_are_not(built: Built, archive: Archive) -> None:
    withheld = built.request.withheld[0].item_id
    index = json.loads((built.path / "data" / "index.json").read_text("utf-8"))
    row = next(r for r in index["items"] if r["id"] == withheld)
    assert row["withheld"] == "yes" and row["exemption"] == "RCW 42.56.290" and row["author"] == ""
    app = _app(archive.home)
    try:
        with app.catalog.session() as s:
            item = s.scalar(select(t.Item).where(t.Item.item_id == withheld))
            texts = [v.text for v in item.versions]
            record_ids = {v.warc_record_id for v in item.versions}
    finally:
        app.close()
    ids = {rid for _, rid, _ in _warc_records(built.path / "data" / "records.warc.gz")}
    assert not record_ids & ids
    page = _thread_of(built, withheld).read_text("utf-8")
    assert "Withheld" in page and "RCW 42.56.290" in page
    for text in texts:
        assert text not in page
    log = (built.path / "data" / "redaction-log.csv").read_text("utf-8")
    assert "withholding" in log and "RCW 42.56.290" in log


def test_index_csv_has_one_row_per_item_with_the_asked_columns(built: Built) -> None:
    import csv

    with open(built.path / "data" / "index.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(built.request.item_ids)
    assert list(rows[0])[:10] == ["id", "platform", "account", "kind", "author", "created",
                                  "versions", "deleted", "redactions", "withheld"]
    assert any(r["deleted"] for r in rows) and any(int(r["versions"]) > 1 for r in rows)
    assert any(int(r["redactions"]) > 0 for r in rows)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium)")
    return path


def _chromium_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
        capture_output=True, text=True, timeout=120,
    )


def test_thread_page_opens_in_headless_chromium_with_post_and_comments(
        built: Built, archive: Archive, tmp_path: Path) -> None:
    from PIL import Image

    page = _thread_of(built, archive.hostile)
    shot = tmp_path / "thread.png"
    run = _chromium_run(tmp_path, "--window-size=390,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), run.stderr[-2000:]
    image = Image.open(shot).convert("L")
    assert image.size == (390, 2400)
    dark = sum(image.histogram()[:128])
    assert dark > 2000  # text was drawn, not a blank page
    # the DOM Chromium built from the page: the post, its comments and a reply, all as text
    dom = _chromium_run(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "Lincoln High update" in dom
    assert "Is the gym open during the snow day?" in dom and "The gym is closed as well." in dom
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in dom  # text node, not an element
    assert dom.lower().count("<script") == 0
    shutil.copy(shot, built.path.parent / "thread-screenshot.png")  # kept for a person to look at


# --- verification --------------------------------------------------------------------------------


def test_untouched_package_verifies(built: Built) -> None:
    verdict = verify_package(built.path)
    assert verdict.ok, verdict.problems
    assert verdict.signature_ok and verdict.request_id == "PRR-2026-0042"
    assert verdict.key_id == built.summary.key_id and verdict.changed == ()
    result = CliRunner().invoke(cli, ["export", "verify", str(built.path)])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


@pytest.mark.parametrize("name", [
    "data/records.warc.gz", "data/records.wacz", "data/reading/index.html", "data/reading/records.pdf",
    "data/index.csv", "data/index.json", "data/redaction-log.csv", "bag-info.txt", "bagit.txt",
    "manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt", "tagmanifest-sha512.txt",
    "export-manifest.json", "export-manifest.json.sig", "export-key.pem",
])
def test_verify_fails_on_one_changed_byte_and_names_the_file(built: Built, tmp_path: Path, name: str) -> None:
    copy = _copy(built, tmp_path)
    target = copy / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    os.chmod(target, 0o644)
    target.write_bytes(bytes(data))
    verdict = verify_package(copy)
    assert not verdict.ok
    assert verdict.changed == (name,), verdict.problems
    result = CliRunner().invoke(cli, ["export", "verify", str(copy)])
    assert result.exit_code == 1 and name in result.output


def test_verify_names_added_and_removed_files(built: Built, tmp_path: Path) -> None:
    copy = _copy(built, tmp_path)
    (copy / "data" / "reading" / "extra.html").write_text("<p>planted</p>")
    (copy / "data" / "index.csv").unlink()
    verdict = verify_package(copy)
    assert not verdict.ok
    assert set(verdict.changed) == {"data/reading/extra.html", "data/index.csv"}


def test_verify_with_an_expected_key_rejects_another_key(built: Built) -> None:
    ok = CliRunner().invoke(cli, ["export", "verify", str(built.path), "--expect-key", built.summary.key_id])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli, ["export", "verify", str(built.path), "--expect-key", "ed25519:" + "0" * 32,
                                   "--json"])
    assert bad.exit_code == 1 and json.loads(bad.output)["ok"] is False


# --- bad input: one clear error, nothing half-written --------------------------------------------


def _no_partial(parent: Path) -> None:
    assert not [p for p in parent.iterdir() if ".partial-" in p.name]


def test_export_folder_that_is_not_empty_is_refused(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    app = _app(archive.home)
    try:
        with pytest.raises(RequestError, match="not empty"):
            build_package(app, _request(archive), out)
    finally:
        app.close()
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_unknown_item_is_refused_by_name(archive: Archive, tmp_path: Path) -> None:
    req = _request(archive)
    req = replace(req, item_ids=(*req.item_ids, "999_no_such_item"))
    app = _app(archive.home)
    try:
        with pytest.raises(RequestError, match="999_no_such_item"):
            build_package(app, req, tmp_path / "out")
    finally:
        app.close()
    assert not (tmp_path / "out").exists()
    _no_partial(tmp_path)


def test_stored_object_failing_its_check_stops_the_export_and_names_it(archive: Archive, tmp_path: Path) -> None:
    from archiver.vault import read_header

    home = tmp_path / "home"
    shutil.copytree(archive.home, home)
    app = _app(home)
    try:
        with app.catalog.session() as s:
            item = s.scalar(select(t.Item).where(t.Item.item_id == archive.marks["recent0"]))
            version = item.versions[-1]
            warc = s.scalar(select(t.WarcFile).where(t.WarcFile.name == version.warc_file))
        stored = home / "store" / warc.store_key
        with open(stored, "rb") as fh:
            header = read_header(fh)
        position = header.segment_offset(version.warc_offset // header.segment_size) + 100
        data = bytearray(stored.read_bytes())
        data[position] ^= 0x01
        os.chmod(stored, 0o644)
        stored.write_bytes(bytes(data))
        out = tmp_path / "out"
        with pytest.raises(IntegrityError) as raised:
            build_package(app, _request(archive), out)
    finally:
        app.close()
    assert warc.store_key in raised.value.message
    assert not out.exists()
    _no_partial(tmp_path)


def test_cli_prints_one_line_for_a_missing_package(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "verify", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "not a folder" in result.output


def test_package_builds_and_verifies_on_both_catalog_databases(database_url: str, tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook", database_url=database_url)
    try:
        assert h.poll().status == "complete"
        timeline = h.sandbox
        timeline.before_cycle(2)
        assert h.poll().status == "complete"
        init_export_key(h.app)
        post = timeline.marks["recent0"]
        with h.app.catalog.session() as s:
            ids = (post, *s.scalars(select(t.Item.item_id).where(t.Item.parent_id == post)))
        req = ExportRequest("PRR-DB-1", "A. Requester", date(2026, 12, 1), date(2026, 12, 8), "x",
                            "WA", "Riverside School District", tuple(ids), (), (), ())
        summary = build_package(h.app, req, tmp_path / "pkg")
    finally:
        h.close()
    assert summary.items == len(ids) and summary.records > len(ids)
    verdict = verify_package(tmp_path / "pkg")
    assert verdict.ok, verdict.problems
