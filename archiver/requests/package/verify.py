"""Verify an export package offline and name every file that changed.

The signed export manifest is the authority: its signature is checked with the public key in
the bag, then every file it lists is re-hashed (sha256 and sha512), files it does not list are
reported, the tag manifests are regenerated and compared byte for byte, the bagit library
validates the bag independently, every WARC record's own digests are re-checked, and the
WACZ's inner hashes are checked. Nothing is fetched from anywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import bagit

from archiver.requests.package.bag import (
    ALGORITHMS,
    MANIFEST,
    MANIFEST_FORMAT,
    PUBLIC_KEY,
    SIGNATURE,
    TAGMANIFESTS,
    file_digests,
    fingerprint,
    read_manifest,
    tag_files,
    tagmanifest_text,
)
from archiver.requests.package.results import PackageVerdict
from archiver.requests.package.warcdigest import RecordCheck

WARC = "data/records.warc.gz"
WACZ = "data/records.wacz"


class _Findings:
    def __init__(self) -> None:
        self.changed: list[str] = []
        self.problems: list[str] = []

    def change(self, name: str, problem: str) -> None:
        if name not in self.changed:
            self.changed.append(name)
        line = f"{name}: {problem}"
        if line not in self.problems:
            self.problems.append(line)

    def problem(self, line: str) -> None:
        if line not in self.problems:
            self.problems.append(line)


def check_warc(path: Path) -> tuple[int, list[str]]:
    """Records in a local .warc.gz and the problems with their digests (record id named)."""
    problems: list[str] = []
    count = 0
    pending = b""
    with open(path, "rb") as fh:
        check = RecordCheck(keep=0)
        while True:
            data = pending or fh.read(1 << 20)
            pending = b""
            if not data:
                break
            try:
                check.feed(data)
            except ValueError as exc:
                problems.append(f"record {count + 1} is damaged ({exc})")
                return count, problems
            if check.eof:
                count += 1
                for p in check.finish():
                    problems.append(f"record {check.headers.get('WARC-Record-ID', count)}: {p}")
                pending = check.trailing
                check = RecordCheck(keep=0)
        if check.headers or check.block_length:
            problems.append(f"record {count + 1} is truncated")
    return count, problems


def check_wacz(path: Path, warc_sha256: str | None) -> list[str]:
    problems = []
    try:
        with zipfile.ZipFile(path) as zf:
            package = json.loads(zf.read("datapackage.json"))
            digest = json.loads(zf.read("datapackage-digest.json"))
            actual = "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest()
            if digest.get("hash") != actual:
                problems.append("datapackage.json does not match datapackage-digest.json")
            for res in package.get("resources", []):
                h = hashlib.sha256()
                with zf.open(res["path"]) as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                if res.get("hash") != "sha256:" + h.hexdigest():
                    problems.append(f"{res['path']} does not match its hash in datapackage.json")
                if res["path"] == "archive/records.warc.gz" and warc_sha256 and h.hexdigest() != warc_sha256:
                    problems.append("its WARC differs from data/records.warc.gz")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        problems.append(f"not a readable WACZ ({type(exc).__name__}: {exc})")
    return problems


def _matches_bag(root: Path, name: str, actual: dict[str, Any]) -> bool:
    """Does the file still match the bag's own manifests (payload or tag)?"""
    prefix = "manifest" if name.startswith("data/") else "tagmanifest"
    for algorithm in ALGORITHMS:
        manifest = root / f"{prefix}-{algorithm}.txt"
        if not manifest.is_file() or read_manifest(manifest).get(name) != actual[algorithm]:
            return False
    return True


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def verify_package(path: Path) -> PackageVerdict:
    root = Path(path)
    f = _Findings()
    if not root.is_dir():
        return PackageVerdict(root, False, "", "", "", False, 0, 0,
                              problems=(f"{root} is not a folder holding an export package",))
    manifest_bytes = (root / MANIFEST).read_bytes() if (root / MANIFEST).is_file() else None
    signature = (root / SIGNATURE).read_bytes() if (root / SIGNATURE).is_file() else None
    public_pem = (root / PUBLIC_KEY).read_bytes() if (root / PUBLIC_KEY).is_file() else None
    for name, value in ((MANIFEST, manifest_bytes), (SIGNATURE, signature), (PUBLIC_KEY, public_pem)):
        if value is None:
            f.change(name, "missing")
    signature_ok = False
    key_id = key_print = ""
    if manifest_bytes is not None and signature is not None and public_pem is not None:
        from archiver.vault.signing import key_id_for, verify_signature

        signature_ok = verify_signature(public_pem, manifest_bytes, signature)
        try:
            key_id, key_print = key_id_for(public_pem), fingerprint(public_pem)
        except Exception:  # noqa: BLE001 - a damaged key is reported through the signature
            key_id = key_print = ""
    doc: dict[str, Any] = {}
    if manifest_bytes is not None:
        try:
            doc = json.loads(manifest_bytes)
            if doc.get("format") != MANIFEST_FORMAT:
                raise ValueError("unknown format")
        except ValueError:
            f.change(MANIFEST, "not an export manifest")
            doc = {}
    listed: dict[str, dict[str, Any]] = doc.get("files", {}) if isinstance(doc.get("files"), dict) else {}
    if doc and key_id and doc.get("key_id") != key_id:
        f.change(PUBLIC_KEY, "is not the key the manifest names")

    # 1. every file the signed manifest lists
    for name in sorted(listed):
        target = root / name
        if not target.is_file():
            f.change(name, "missing")
            continue
        actual = file_digests(target)
        expected = listed[name]
        if any(actual[k] != expected.get(k) for k in ("bytes", *ALGORITHMS)):
            if not signature_ok and _matches_bag(root, name, actual):
                continue  # the unsigned manifest is what changed, not this file
            f.change(name, "changed (its digest differs from the signed manifest)")

    # 2. files nobody listed
    own = {MANIFEST, SIGNATURE, *TAGMANIFESTS}
    for name in _all_files(root):
        if listed and name not in listed and name not in own:
            f.change(name, "not in the signed manifest (added after signing)")

    # 3. tag manifests, regenerated in their one canonical form: a line may differ only
    # because the file it names changed; any other difference is a change to the manifest
    names = tag_files(root)
    for algorithm, manifest in zip(ALGORITHMS, TAGMANIFESTS, strict=True):
        target = root / manifest
        if not target.is_file():
            f.change(manifest, "missing")
            continue
        text = target.read_text("utf-8", "replace")
        if text == tagmanifest_text(root, algorithm, names):
            continue
        recorded = read_manifest(target)
        lines = []
        for n in names:
            digest = hashlib.new(algorithm, (root / n).read_bytes()).hexdigest()
            explained = n in f.changed or (n in (MANIFEST, SIGNATURE) and not signature_ok)
            if explained and recorded.get(n, digest) != digest:
                f.change(n, "changed (its digest differs from the tag manifests)")
                digest = recorded[n]
            lines.append(f"{digest}  {n}\n")
        if text != "".join(lines):
            f.change(manifest, "changed")

    # 4. the signature itself
    if not signature_ok and manifest_bytes is not None and signature is not None and public_pem is not None:
        if not any(n in f.changed for n in (MANIFEST, SIGNATURE, PUBLIC_KEY)):
            f.change(MANIFEST, "its signature does not verify with export-key.pem")
        f.problem("the signature over export-manifest.json does not verify")

    # 5. the bagit library's own validation: a second opinion, named only if ours found nothing
    logging.getLogger("bagit").setLevel(logging.ERROR)
    try:
        bagit.Bag(str(root)).validate(processes=1)
    except bagit.BagValidationError as exc:
        if not f.changed:
            for detail in getattr(exc, "details", []) or []:
                name = getattr(detail, "path", "")
                if name:
                    f.change(name, f"bagit: {detail}")
            f.problem(f"bagit: {exc}")
    except bagit.BagError as exc:
        f.problem(f"bagit: {exc}")

    # 6. WARC records' own digests, and the WACZ
    records = 0
    if (root / WARC).is_file():
        records, warc_problems = check_warc(root / WARC)
        for p in warc_problems:
            f.change(WARC, p)
        expected_records = (doc.get("warc") or {}).get("records")
        if expected_records is not None and expected_records != records:
            f.change(WARC, f"holds {records} records, the signed manifest says {expected_records}")
    if (root / WACZ).is_file():
        warc_sha = listed.get(WARC, {}).get("sha256")
        for p in check_wacz(root / WACZ, warc_sha):
            f.change(WACZ, p)

    ok = signature_ok and not f.changed and not f.problems
    return PackageVerdict(
        path=root,
        ok=ok,
        request_id=str(doc.get("request_id", "")),
        key_id=key_id,
        key_fingerprint=key_print,
        signature_ok=signature_ok,
        files_checked=len(listed),
        warc_records=records,
        changed=tuple(f.changed),
        problems=tuple(f.problems),
    )
