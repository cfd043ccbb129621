"""A sequence of WARC files for one capture cycle of one retention bucket, rolled by size."""

from __future__ import annotations

from pathlib import Path

from archiver.core.clock import Clock
from archiver.warc.journal import JournaledWarcFile, WarcJournal
from archiver.warc.writer import SealedWarc, WarcFile, warc_name


class RollingWarc:
    """Opens a WARC on first write and starts a new one once `max_bytes` is passed."""

    def __init__(
        self, spool: Path, prefix: str, info: dict[str, str], *, max_bytes: int, clock: Clock,
        journal: bool = False,
    ) -> None:
        self.spool = spool
        self.prefix = prefix
        self.info = info
        self.max_bytes = max_bytes
        self.clock = clock
        self._current: WarcFile | None = None
        self.sealed: list[SealedWarc] = []
        # journal=True: each file keeps its records for the capture-side indexer (journal.py)
        self.journal = journal
        self.journals: dict[str, WarcJournal] = {}

    @property
    def current(self) -> WarcFile:
        if self._current is None:
            now = self.clock.now()
            name = warc_name(self.prefix, now, serial=len(self.sealed))
            if self.journal:
                current = JournaledWarcFile(self.spool, name, self.info, now=now)
                self.journals[name] = current.journal
                self._current = current
            else:
                self._current = WarcFile(self.spool, name, self.info, now=now)
        return self._current

    @property
    def open_files(self) -> list[Path]:
        return [self._current.path] if self._current else []

    def after_write(self) -> None:
        if self._current is not None and self._current.size >= self.max_bytes:
            self.sealed.append(self._current.seal())
            self._current = None

    def seal_all(self) -> list[SealedWarc]:
        if self._current is not None:
            self.sealed.append(self._current.seal())
            self._current = None
        return list(self.sealed)

    def abandon(self) -> None:
        if self._current is not None:
            self._current.abandon()
