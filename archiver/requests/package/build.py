"""Build the export package for one request: everything is written into a temporary folder
beside the destination and renamed into place only when complete and signed, so a failure
(an unknown item, a stored object that fails its digest) leaves nothing half-written."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.app import App
from archiver.core.errors import RequestError
from archiver.requests.package.bag import fingerprint, make_bag, sign_bag
from archiver.requests.package.gather import Gathered, gather
from archiver.requests.package.indexes import write_indexes
from archiver.requests.package.model import ExportRequest
from archiver.requests.package.pdf import write_pdf
from archiver.requests.package.reading_copy import ReadingCopy
from archiver.requests.package.records import CopyResult, copy_records, plan_records
from archiver.requests.package.redact import Masker
from archiver.requests.package.results import PackageSummary
from archiver.requests.package.wacz import write_wacz

Progress = Callable[[int, int], None]
STAGES = 5  # reading copy, PDF, indexes, WACZ, bag and signature


def preload() -> None:
    """Import now what an export imports when it gets there (fpdf2 and fontTools, for the PDF).
    A one-shot export process (the CLI) imports everything first and then moves it out of the
    garbage collector's way (gc.freeze), which only helps for objects that exist by then. A
    missing fpdf2 is reported by the export itself, when it reaches the PDF."""
    from archiver.requests.package.pdf import load_fpdf

    with contextlib.suppress(RequestError):
        load_fpdf()


def check_destination(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise RequestError(f"{out_dir} is a file; give a new or empty folder for the export")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise RequestError(f"The export folder {out_dir} is not empty; give a new or empty folder")


def _pages(g: Gathered, copied: CopyResult, masker: Masker) -> list[dict[str, Any]]:
    pages: dict[str, dict[str, Any]] = {}
    for item in g.released.values():
        label = f"{item.platform} {item.kind} {masker.plain(item.item_id)}"
        wanted = [(v.record, f"{label}, version {v.number}") for v in item.versions]
        if item.deletion and item.deletion.evidence:
            wanted.append((item.deletion.evidence, f"{label}, deletion evidence"))
        for ptr, title in wanted:
            rec = copied.by_source.get((ptr.file, ptr.offset))
            if rec is None or not rec.target_uri:
                continue
            if rec.record_id in pages:
                pages[rec.record_id]["title"] += f"; {title}"
                continue
            pages[rec.record_id] = {"id": rec.record_id.strip("<>").rsplit(":", 1)[-1],
                                    "url": rec.target_uri, "ts": rec.date, "title": title}
    return sorted(pages.values(), key=lambda p: (p["ts"], p["url"]))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_package(app: App, req: ExportRequest, out_dir: Path, *,
                  progress: Progress | None = None, signer: Any = None) -> PackageSummary:
    """Write the package for `req` to `out_dir` (new or empty). `signer` defaults to the
    district's export key (`archiver keys init-export`)."""
    started = time.monotonic()
    out_dir = Path(out_dir).absolute()
    check_destination(out_dir)
    if signer is None:
        from archiver.vault.signing import load_signer

        signer = load_signer(app.settings, app.keys)
    exported_at = datetime.now(UTC).replace(microsecond=0)
    g = gather(app, req)
    masker = Masker(req.redactions)
    plan = plan_records(g)
    done = 0
    total = plan.count() + STAGES

    def step(n: int = 1) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(min(done, total), total)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        copied = copy_records(app, g, plan, masker, tmp / "records.warc.gz",
                              request_id=req.request_id, district=req.district,
                              when=exported_at, progress=step)
        total = done + STAGES
        reading = ReadingCopy(req, g, copied, masker, exported_at)
        folder = tmp / "reading"
        folder.mkdir()
        (folder / "index.html").write_text(reading.index_page(), encoding="utf-8")
        for thread in reading.threads:
            (folder / thread.filename).write_text(reading.thread_page(thread), encoding="utf-8")
        step()
        write_pdf(reading, folder / "records.pdf")
        step()
        write_indexes(tmp, req, g, reading, copied, masker, exported_at)
        step()
        write_wacz(tmp / "records.wacz", tmp / "records.warc.gz", copied.records,
                   _pages(g, copied, masker),
                   title=f"Public records request {req.request_id}",
                   description=f"Records responsive to public records request {req.request_id} "
                               f"of {req.district}.",
                   created=exported_at)
        step()
        files = sum(1 for p in tmp.rglob("*") if p.is_file())
        payload_bytes = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        make_bag(tmp, req, exported_at)
        sign_bag(tmp, req, signer, exported_at, warc_records=len(copied.records) + 1)
        step()
        check_destination(out_dir)  # nobody wrote there meanwhile
        if out_dir.is_dir():
            out_dir.rmdir()
        os.replace(tmp, out_dir)
        _fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PackageSummary(
        path=out_dir,
        request_id=req.request_id,
        items=len(g.released),
        withheld=len(g.withheld),
        redactions=len(masker.redactions),
        threads=len(reading.threads),
        records=len(copied.records) + 1,
        left_out=tuple(copied.left_out),
        warc_bytes=copied.size,
        files=files,
        payload_bytes=payload_bytes,
        key_id=signer.key_id,
        key_fingerprint=fingerprint(signer.public_key_pem),
        seconds=round(time.monotonic() - started, 3),
        warnings=tuple(copied.warnings),
    )
