"""The bag around the payload: BagIt 1.0 manifests, a signed export manifest, tag manifests.

Layout (bag root):
  bagit.txt, bag-info.txt, manifest-sha256.txt, manifest-sha512.txt   (bagit library)
  export-manifest.json       every file's size, sha256 and sha512 (payload and the tag files
                             above), the request, the key id
  export-manifest.json.sig   Ed25519 signature over export-manifest.json, raw 64 bytes
                             (checkable with `openssl pkeyutl -verify -rawin`)
  export-key.pem             the district's public export key
  tagmanifest-sha256.txt, tagmanifest-sha512.txt   every tag file, written last in one
                             canonical form so a verifier can tell a changed byte in them too
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bagit
from cryptography.hazmat.primitives import serialization

from archiver.requests.package.model import ExportRequest

ALGORITHMS = ("sha256", "sha512")
MANIFEST = "export-manifest.json"
SIGNATURE = "export-manifest.json.sig"
PUBLIC_KEY = "export-key.pem"
TAGMANIFESTS = tuple(f"tagmanifest-{a}.txt" for a in ALGORITHMS)
MANIFEST_FORMAT = "district-social-archiver export manifest 1"


def fingerprint(public_key_pem: bytes) -> str:
    """sha256 over the raw Ed25519 public key, hex: what a requester compares by phone."""
    key = serialization.load_pem_public_key(public_key_pem)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def file_digests(path: Path) -> dict[str, Any]:
    hashes = {a: hashlib.new(a) for a in ALGORITHMS}
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            size += len(chunk)
            for h in hashes.values():
                h.update(chunk)
    return {"bytes": size, **{a: h.hexdigest() for a, h in hashes.items()}}


def make_bag(folder: Path, req: ExportRequest, created: datetime) -> None:
    """Moves `folder`'s contents into data/ and writes the BagIt files (version 1.0)."""
    info = {
        "Source-Organization": req.district,
        "External-Identifier": req.request_id,
        "External-Description": f"Records responsive to public records request {req.request_id}",
        "Request-Received": req.received.isoformat(),
        "Request-Due": req.due.isoformat(),
        "Request-State": req.state,
        "Export-Date": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    bagit.make_bag(str(folder), {k: _one_line(v) for k, v in info.items()}, processes=1,
                   checksums=list(ALGORITHMS))
    # bagit-python still writes 0.97 (LibraryOfCongress/bagit-python#141); the bag is 1.0.
    (folder / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
                                      encoding="utf-8")


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def read_manifest(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition(" ")
            out[name.strip()] = digest.strip()
    return out


def tag_files(folder: Path) -> list[str]:
    """Every file outside data/ except the tag manifests themselves, bag-relative, sorted."""
    out = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not rel.startswith("data/") and rel not in TAGMANIFESTS:
            out.append(rel)
    return sorted(out)


def tagmanifest_text(folder: Path, algorithm: str, names: Iterable[str]) -> str:
    lines = []
    for name in names:
        h = hashlib.new(algorithm)
        with open(folder / name, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        lines.append(f"{h.hexdigest()}  {name}\n")
    return "".join(lines)


def write_tagmanifests(folder: Path) -> None:
    names = tag_files(folder)
    for algorithm, manifest in zip(ALGORITHMS, TAGMANIFESTS, strict=True):
        (folder / manifest).write_text(tagmanifest_text(folder, algorithm, names), encoding="utf-8")


def export_manifest(folder: Path, req: ExportRequest, *, key_id: str, public_key_pem: bytes,
                    created: datetime, warc_records: int) -> bytes:
    """The document the district signs: every payload file's digests as the bag's manifests
    give them, plus the BagIt tag files and the public key, hashed here."""
    payload: dict[str, dict[str, Any]] = {}
    manifests = {a: read_manifest(folder / f"manifest-{a}.txt") for a in ALGORITHMS}
    for name in sorted(manifests["sha256"]):
        payload[name] = {"bytes": (folder / name).stat().st_size,
                         **{a: manifests[a].get(name, "") for a in ALGORITHMS}}
    for name in ("bagit.txt", "bag-info.txt", *(f"manifest-{a}.txt" for a in ALGORITHMS), PUBLIC_KEY):
        payload[name] = file_digests(folder / name)
    doc = {
        "format": MANIFEST_FORMAT,
        "request_id": req.request_id,
        "district": req.district,
        "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key_id": key_id,
        "key_fingerprint_sha256": fingerprint(public_key_pem),
        "warc": {"path": "data/records.warc.gz", "records": warc_records},
        "files": payload,
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sign_bag(folder: Path, req: ExportRequest, signer: Any, created: datetime,
             warc_records: int) -> None:
    (folder / PUBLIC_KEY).write_bytes(signer.public_key_pem)
    manifest = export_manifest(folder, req, key_id=signer.key_id,
                               public_key_pem=signer.public_key_pem, created=created,
                               warc_records=warc_records)
    (folder / MANIFEST).write_bytes(manifest)
    (folder / SIGNATURE).write_bytes(signer.sign(manifest))
    write_tagmanifests(folder)
