"""Salvage a WARC left behind by a crash: keep every complete record, drop a torn tail.

Each record is its own gzip member and warcio finishes a member only once the record is
whole, so a member whose gzip trailer (CRC32 and length) checks out holds a complete record.
The file is cut after the last such member, fsynced, and sealed under its final name.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

from archiver.warc.reader import iter_records
from archiver.warc.writer import OPEN_SUFFIX, SealedWarc, fsync_dir

_CHUNK = 1 << 20


def complete_prefix(path: Path) -> tuple[int, int]:
    """(bytes of whole gzip members from the start, number of members)."""
    good_end = 0
    members = 0
    offset = 0
    with open(path, "rb") as fh:
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = b""
        while True:
            data = pending or fh.read(_CHUNK)
            pending = b""
            if not data:
                break
            try:
                decomp.decompress(data)
            except zlib.error:
                break
            if decomp.eof:
                used = len(data) - len(decomp.unused_data)
                offset += used
                good_end = offset
                members += 1
                pending = decomp.unused_data
                decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                offset += len(data)
    return good_end, members


def salvage_open_file(path: Path, *, already_sealed: bool = False) -> SealedWarc | None:
    """Seal what is whole in `path`; None (and the file removed) if it holds no capture."""
    good_end, members = complete_prefix(path)
    size = path.stat().st_size
    if members <= 1:  # nothing but warcinfo (or not even that): no capture to keep
        path.unlink(missing_ok=True)
        return None
    if good_end < size:
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
    final = path
    if not already_sealed and path.name.endswith(OPEN_SUFFIX):
        final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
        os.replace(path, final)
        fsync_dir(final.parent)
    digest = hashlib.sha256()
    with open(final, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    with open(final, "rb") as fh:
        dates = [r.date for r in iter_records(fh, final.name)]
    return SealedWarc(
        name=final.name,
        path=final,
        size=good_end,
        sha256=digest.hexdigest(),
        records=members,
        first_date=dates[0],
        last_date=dates[-1],
    )
