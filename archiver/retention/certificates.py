"""Destruction certificates: what was destroyed, under which law, on whose approval.

The body is canonical JSON (sorted keys, no spaces) and is what the district's Ed25519 key
signs; the HTML is a reading copy of the same body. Only what was really destroyed is listed.
"""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archiver.retention.schedules import Effective


@dataclass(frozen=True)
class DestroyedObject:
    name: str
    store_key: str
    sha256: str  # of the WARC (plaintext)
    object_sha256: str | None  # of the stored ciphertext
    object_size: int | None
    key_id: str | None  # the key that wrapped its (now destroyed) data key


@dataclass(frozen=True)
class DestroyedItem:
    platform: str
    item_id: str
    account: str
    kind: str
    series: str
    created_at: datetime | None
    deleted_at: datetime | None
    retain_until: datetime


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def build_body(*, cert_id: str, issued_at: datetime, as_of: datetime, approver: str, actor: str, district: str,
               effective: Effective, citations: dict[str, list[str]], items: list[DestroyedItem],
               objects: list[DestroyedObject]) -> dict[str, Any]:
    by_series: dict[str, list[DestroyedItem]] = defaultdict(list)
    for item in items:
        by_series[item.series].append(item)
    series = []
    for key, members in sorted(by_series.items()):
        s = effective.get(key)
        schedule = effective.schedules.get(s.schedule) if s else None

        def span(values: list[datetime | None]) -> list[str | None]:
            known = [v for v in values if v is not None]
            return [_iso(min(known)), _iso(max(known))] if known else [None, None]

        series.append({
            "state": effective.state, "series": key, "title": s.title if s else None,
            "schedule": {"id": schedule.id, "name": schedule.name, "version": schedule.version} if schedule else None,
            "retention": s.retention if s else None, "disposition": s.disposition if s else None,
            "status_in_file": s.status if s else None, "citations": citations.get(key, []),
            "items": len(members), "by_kind": _count(m.kind for m in members),
            "created": span([m.created_at for m in members]), "deleted": span([m.deleted_at for m in members]),
            "retain_until": span([m.retain_until for m in members]),
            "accounts": sorted({m.account for m in members}),
        })
    return {
        "format": "archiver-destruction-certificate", "version": 1, "id": cert_id,
        "issued_at": _iso(issued_at), "as_of": _iso(as_of), "approved_by": approver, "recorded_by": actor,
        "district": district, "state": effective.state, "district_schedule": effective.district,
        "method": "objects deleted (every stored version) and their wrapped data keys destroyed in the catalog, "
                  "the object header and any key sidecar (crypto-shredding); catalog text removed, a minimal "
                  "disposition row kept per item",
        "items": len(items), "series": series,
        "objects": [{"name": o.name, "store_key": o.store_key, "sha256": o.sha256,
                     "object_sha256": o.object_sha256, "object_size": o.object_size, "key_id": o.key_id}
                    for o in sorted(objects, key=lambda o: o.name)],
        "item_ids": sorted(f"{i.platform}:{i.item_id}" for i in items),
    }


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return dict(sorted(out.items()))


def envelope(body: dict[str, Any], signature: bytes, key_id: str, public_key_pem: bytes,
             name: str = "certificate") -> dict[str, Any]:
    return {name: body, "signature": {"algorithm": "Ed25519", "key_id": key_id,
                                      "value": base64.b64encode(signature).decode("ascii"),
                                      "signed": f"canonical JSON of '{name}' (sorted keys, no spaces)",
                                      "public_key_pem": public_key_pem.decode("ascii")}}


def render_html(doc: dict[str, Any]) -> str:
    body, sig = doc["certificate"], doc["signature"]
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(s['series'])}</td><td>{e(s['title'] or '')}</td><td>{e(s['retention'] or '')}</td>"
        f"<td>{s['items']}</td><td>{e(str(s['created'][0] or ''))[:10]} – {e(str(s['created'][1] or ''))[:10]}</td>"
        f"<td>{e(str(s['deleted'][0] or ''))[:10]} – {e(str(s['deleted'][1] or ''))[:10]}</td>"
        f"<td>{'<br>'.join(e(c) for c in s['citations'])}</td></tr>"
        for s in body["series"])
    objects = "".join(
        f"<tr><td>{e(o['name'])}</td><td><code>{e(o['sha256'])}</code></td>"
        f"<td><code>{e(o['object_sha256'] or '')}</code></td></tr>" for o in body["objects"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Certificate of destruction {e(body['id'])}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}td,th{{border:1px solid #999;padding:.3em;
vertical-align:top}}table{{border-collapse:collapse}}code{{font-size:.8em}}</style></head><body>
<h1>Certificate of destruction</h1>
<p><b>{e(body['district'])}</b> ({e(body['state'])}{', district schedule of ' + e(body['district_schedule']) if body['district_schedule'] else ''})</p>
<p>Certificate {e(body['id'])}, issued {e(body['issued_at'])}; eligibility as of {e(body['as_of'])}.<br>
Approved by <b>{e(body['approved_by'])}</b>; recorded by {e(body['recorded_by'])}.</p>
<p>{body['items']} item(s) in {len(body['objects'])} object(s) destroyed. Method: {e(body['method'])}.</p>
<h2>Series</h2><table><tr><th>series</th><th>title</th><th>retention</th><th>items</th><th>posted</th>
<th>removed</th><th>citations</th></tr>{rows}</table>
<h2>Objects destroyed</h2><table><tr><th>object</th><th>WARC SHA-256</th><th>stored object SHA-256</th></tr>{objects}</table>
<h2>Signature</h2><p>Ed25519, key {e(sig['key_id'])}, over the canonical JSON of the certificate
(the .json file next to this one): <code>{e(sig['value'])}</code></p>
<pre>{e(sig['public_key_pem'])}</pre>
</body></html>
"""
