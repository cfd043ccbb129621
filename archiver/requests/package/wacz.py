"""data/records.wacz: the package's WARC as a WACZ 1.1.1 for ReplayWeb.page.

A small writer of our own (the `wacz` package pulls in a large validation stack): the WARC is
stored uncompressed in the ZIP so range reads work, a CDXJ index of its response records,
pages/pages.jsonl with one entry per item version and deletion evidence (API captures hold no
HTML page a crawler would detect), datapackage.json with every file's sha256, and
datapackage-digest.json. `wacz validate` accepts it (tested).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from archiver.requests.package.records import CopiedRecord
from archiver.warc.writer import SOFTWARE

WACZ_VERSION = "1.1.1"
INDEXED = ("response", "resource", "revisit")


def surt(url: str) -> str:
    """The sort key replay tools look records up by: host reversed, query sorted."""
    if not url.lower().startswith(("http://", "https://")):
        return url
    parts = urlsplit(url.lower())
    host = parts.hostname or ""
    if host.startswith("www.") and host.count(".") > 1:
        host = host[4:]
    key = ",".join(reversed(host.split(".")))
    if parts.port:
        key += f":{parts.port}"
    key += ")" + (parts.path or "/")
    if parts.query:
        key += "?" + urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return key


def timestamp14(warc_date: str) -> str:
    return "".join(c for c in warc_date if c.isdigit())[:14].ljust(14, "0")


def cdxj_lines(records: Iterable[CopiedRecord], filename: str) -> list[str]:
    lines = []
    for r in records:
        if r.rec_type not in INDEXED or not r.target_uri:
            continue
        fields: dict[str, Any] = {"url": r.target_uri, "mime": r.mime or "unk",
                                  "status": str(r.http_status or 200 if r.rec_type != "response" else r.http_status),
                                  "digest": r.payload_digest, "length": str(r.length),
                                  "offset": str(r.offset), "filename": filename}
        fields = {k: v for k, v in fields.items() if v not in ("", "0")}
        lines.append(f"{surt(r.target_uri)} {timestamp14(r.date)} {json.dumps(fields, ensure_ascii=False)}")
    return sorted(lines)


def _add(zf: zipfile.ZipFile, name: str, data: bytes, *, stored: bool) -> dict[str, Any]:
    info = zipfile.ZipInfo(name, date_time=datetime.now(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
    return {"name": name.rsplit("/", 1)[-1].lower(), "path": name,
            "hash": "sha256:" + hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def write_wacz(path: Path, warc: Path, records: list[CopiedRecord], pages: list[dict[str, Any]], *,
               title: str, description: str, created: datetime) -> None:
    resources = []
    with zipfile.ZipFile(path, "x", allowZip64=True) as zf:
        info = zipfile.ZipInfo("archive/records.warc.gz", date_time=created.timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED
        digest = hashlib.sha256()
        size = 0
        with open(warc, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
        resources.append({"name": "records.warc.gz", "path": "archive/records.warc.gz",
                          "hash": "sha256:" + digest.hexdigest(), "bytes": size})
        cdx = "".join(line + "\n" for line in cdxj_lines(records, "records.warc.gz")).encode("utf-8")
        resources.append(_add(zf, "indexes/index.cdx", cdx, stored=True))
        header = {"format": "json-pages-1.0", "id": "pages", "title": title}
        jsonl = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in [header, *pages]).encode("utf-8")
        resources.append(_add(zf, "pages/pages.jsonl", jsonl, stored=False))
        package: dict[str, Any] = {
            "profile": "data-package",
            "resources": resources,
            "title": title,
            "description": description,
            "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wacz_version": WACZ_VERSION,
            "software": SOFTWARE,
        }
        if pages:
            package["mainPageURL"] = pages[0]["url"]
            package["mainPageDate"] = pages[0]["ts"]
        package_bytes = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
        _add(zf, "datapackage.json", package_bytes, stored=False)
        digest_doc = {"path": "datapackage.json",
                      "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
        _add(zf, "datapackage-digest.json", json.dumps(digest_doc, indent=2).encode("utf-8"),
             stored=False)
