"""Export packages as use cases: verify one offline (no archive, settings or network needed,
so a requester's copy of the archiver can check a package it was handed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from archiver.core.errors import RequestError
from archiver.requests.package.results import PackageVerdict
from archiver.requests.package.verify import verify_package


def verify_export(path: Path, *, expect_key: str | None = None) -> PackageVerdict:
    """`expect_key`: the key id or sha256 fingerprint the district publishes; a package signed
    by any other key fails even if it is intact."""
    if not Path(path).is_dir():
        raise RequestError(f"{path} is not a folder holding an export package; give the folder "
                           "that 'archiver requests export' wrote")
    verdict = verify_package(path)
    if expect_key and expect_key.strip().lower() not in (verdict.key_id.lower(),
                                                         verdict.key_fingerprint.lower()):
        problem = (f"signed by key {verdict.key_id or 'unknown'}, not the expected {expect_key}; "
                   "ask the district which key it publishes")
        verdict = replace(verdict, ok=False, problems=(*verdict.problems, problem))
    return verdict
