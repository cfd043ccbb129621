"""What the builder and the verifier hand back: frozen data for the CLI, a web console or a
test to show; nothing here touches files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LeftOut:
    """An archival record that holds responsive content but is not in the package's WARC,
    because it also carries redacted text or a withheld item (records are never altered)."""

    record_id: str
    reason: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class PackageSummary:
    path: Path
    request_id: str
    items: int  # responsive items released (in the reading copy and the WARC)
    withheld: int
    redactions: int
    threads: int
    records: int  # records copied into data/records.warc.gz
    left_out: tuple[LeftOut, ...]
    warc_bytes: int
    files: int  # payload files in the bag
    payload_bytes: int
    key_id: str
    key_fingerprint: str  # sha256 of the public key (DER), what a requester compares
    seconds: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PackageVerdict:
    path: Path
    ok: bool
    request_id: str
    key_id: str
    key_fingerprint: str
    signature_ok: bool
    files_checked: int
    warc_records: int
    changed: tuple[str, ...] = ()  # bag-relative paths of files that changed, vanished or appeared
    problems: tuple[str, ...] = ()  # one line each, naming the file
