"""data/index.csv, data/index.json and data/redaction-log.csv.

One row per responsive item (withheld ones too, with their exemption and nothing else), every
platform string masked. CSV cells that a spreadsheet would run as a formula (=, +, -, @) are
prefixed with an apostrophe: an author name is not a formula.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from archiver.requests.package.gather import Gathered, ItemData, Key
from archiver.requests.package.model import ExportRequest
from archiver.requests.package.reading_copy import ReadingCopy
from archiver.requests.package.records import CopyResult
from archiver.requests.package.redact import Masker

INDEX_COLUMNS = ["id", "platform", "account", "kind", "author", "created", "versions", "deleted",
                 "redactions", "withheld", "exemption", "parent_id", "thread"]
LOG_COLUMNS = ["label", "action", "item_id", "exemption", "by", "at", "occurrences"]


def _iso(value: datetime | date | None) -> str:
    return value.isoformat() if value else ""


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _write_csv(path: Path, columns: list[str], rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "x", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])


def _item_texts(item: ItemData) -> list[str]:
    return [s for v in item.versions for s in (v.text, v.author, v.url)]


def _labels(masker: Masker, item: ItemData) -> list[str]:
    labels: set[str] = set()
    for text in _item_texts(item):
        labels.update(masker.labels_in(text))
    if item.deletion:
        labels.update(masker.labels_in(item.deletion.detail))
    return sorted(labels, key=lambda label: int(label[1:]))


def item_rows(req: ExportRequest, g: Gathered, copy: ReadingCopy, copied: CopyResult,
              masker: Masker) -> list[dict[str, Any]]:
    thread_of: dict[Key, int] = {k: t.number for t in copy.threads for k in t.members}
    in_warc = {r.record_id for r in copied.records}
    rows: list[dict[str, Any]] = []
    for key, item in g.released.items():
        latest = item.versions[-1] if item.versions else None
        labels = _labels(masker, item)
        rows.append({
            "id": masker.plain(item.item_id),
            "platform": item.platform,
            "account": masker.plain(item.account),
            "kind": item.kind,
            "author": masker.plain(latest.author if latest else ""),
            "created": _iso(item.created_at),
            "versions": len(item.versions),
            "deleted": _iso(item.deletion.detected_at) if item.deletion else "",
            "redactions": len(labels),
            "redaction_labels": labels,
            "withheld": "no",
            "exemption": "",
            "parent_id": masker.plain(item.parent_id or ""),
            "thread": thread_of.get(key, ""),
            "version_records": [
                {"version": v.number, "observed_at": _iso(v.observed_at),
                 "record_id": v.record.record_id, "in_warc": v.record.record_id in in_warc}
                for v in item.versions
            ],
            "deletion": None if item.deletion is None else {
                "detected_at": _iso(item.deletion.detected_at),
                "reason": masker.plain(item.deletion.reason),
                "evidence_record_id": item.deletion.evidence.record_id if item.deletion.evidence else "",
                "conclusion_record_id": item.deletion.metadata_record_id,
            },
        })
    for key, (item, w) in g.withheld.items():
        rows.append({
            "id": masker.plain(item.item_id), "platform": item.platform,
            "account": masker.plain(item.account), "kind": item.kind, "author": "",
            "created": _iso(item.created_at), "versions": len(item.versions),
            "deleted": _iso(item.deletion.detected_at) if item.deletion else "",
            "redactions": 0, "redaction_labels": [], "withheld": "yes", "exemption": w.exemption,
            "parent_id": masker.plain(item.parent_id or ""), "thread": thread_of.get(key, ""),
        })
    return rows


def write_indexes(folder: Path, req: ExportRequest, g: Gathered, copy: ReadingCopy,
                  copied: CopyResult, masker: Masker, exported_at: datetime) -> None:
    rows = item_rows(req, g, copy, copied, masker)
    _write_csv(folder / "index.csv", INDEX_COLUMNS, rows)
    document = {
        "request": {
            "id": req.request_id, "district": req.district, "state": req.state,
            "requester": masker.plain(req.requester), "received": _iso(req.received),
            "due": _iso(req.due), "description": masker.plain(req.description),
            "searches": [masker.plain(q) for q in req.searches],
        },
        "exported_at": _iso(exported_at),
        "items": rows,
        "redactions": [
            {"label": lr.label, "item_id": masker.plain(lr.redaction.item_id),
             "exemption": lr.redaction.exemption, "by": masker.plain(lr.redaction.by),
             "at": _iso(lr.redaction.at)}
            for lr in masker.redactions
        ],
        "withheld": [
            {"item_id": masker.plain(item.item_id), "platform": item.platform,
             "exemption": w.exemption, "by": masker.plain(w.by), "at": _iso(w.at)}
            for item, w in g.withheld.values()
        ],
        "records": {"file": "records.warc.gz", "count": len(copied.records) + 1},
        "records_left_out": [
            {"record_id": lo.record_id, "reason": lo.reason, "item_ids": list(lo.item_ids)}
            for lo in copied.left_out
        ],
        "threads": [
            {"number": t.number, "file": f"reading/{t.filename}", "title": copy.thread_title(t)}
            for t in copy.threads
        ],
    }
    with open(folder / "index.json", "x", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    log_rows: list[dict[str, Any]] = []
    texts = [t for item in g.released.values() for t in _item_texts(item)]
    for lr in masker.redactions:
        occurrences = sum(t.count(lr.redaction.text) for t in texts) if lr.redaction.text.strip() else 0
        log_rows.append({"label": lr.label, "action": "redaction",
                         "item_id": masker.plain(lr.redaction.item_id),
                         "exemption": lr.redaction.exemption, "by": masker.plain(lr.redaction.by),
                         "at": _iso(lr.redaction.at), "occurrences": occurrences})
    for n, (item, w) in enumerate(g.withheld.values(), start=1):
        log_rows.append({"label": f"W{n}", "action": "withholding",
                         "item_id": masker.plain(item.item_id), "exemption": w.exemption,
                         "by": masker.plain(w.by), "at": _iso(w.at), "occurrences": ""})
    _write_csv(folder / "redaction-log.csv", LOG_COLUMNS, log_rows)
