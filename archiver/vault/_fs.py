"""Small durable-file helpers shared by the vault modules."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Make a rename or create in `path` survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(dst: Path) -> Iterator[BinaryIO]:
    """Write to a 0600 temp file beside `dst`; fsync and rename over `dst` only on success.

    On any exception the temp file is removed and `dst` is left as it was.
    """
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(6)}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
        fsync_dir(dst.parent)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def open_source(src: Path | BinaryIO) -> Iterator[BinaryIO]:
    """Open a path for reading, or pass an open stream through without closing it."""
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            yield f
    else:
        yield src
