"""One capture cycle of one account: harvest, diff against what is known, confirm deletions.

The cycle knows nothing of SQL or storage: the caller hands it what the catalog knows
(`KnownItem`s) and gets back what changed; every conclusion is also written into the WARC as
a `metadata` record that refers to its evidence, so the catalog can be rebuilt from WARCs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archiver.capture.session import CaptureSession
from archiver.core.errors import ArchiverError, TryLater
from archiver.core.models import (
    AccountRef,
    Checked,
    Checkpoint,
    Covered,
    Gone,
    Item,
    Observed,
    ParseWarning,
    Present,
    WarcPointer,
    media_key,
)
from archiver.core.plan import FULL, HarvestPlan, KnownItem
from archiver.warc.fields import OBSERVATION, location
from connectors.base import Connector

__all__ = ["CaptureCycle", "CycleResult", "KnownItem"]

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    new: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    still_present: list[str] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)
    media: int = 0
    throttled: int = 0
    cursor: dict[str, Any] | None = None
    complete: bool = False
    error: ArchiverError | None = None
    # Items whose change signal moved but whose children were not read whole this cycle: the
    # caller forgets their stored signal, so the next cycle reads those children again.
    stale_signals: list[str] = field(default_factory=list)


class CaptureCycle:
    def __init__(
        self,
        connector: Connector,
        account: AccountRef,
        session: CaptureSession,
        *,
        known: Mapping[str, KnownItem],
        cursor: dict[str, Any] | None,
        media_seen: set[str],
        max_inline_wait: float,
        max_inline_retries: int = 3,
        capture_media: bool = True,
        plan: HarvestPlan = FULL,
    ) -> None:
        self.connector = connector
        self.account = account
        self.session = session
        self.known = known
        self.cursor = cursor
        self.media_seen = media_seen
        self.max_inline_wait = max_inline_wait
        self.max_inline_retries = max_inline_retries
        self.capture_media = capture_media
        self.plan = plan
        self.seen: dict[str, Observed] = {}
        self.checked: set[str] = set()
        # (parent, kind) -> the listing's lower bound on creation time (None: no bound)
        self.covered: dict[tuple[str | None, str], datetime | None] = {}
        self.result = CycleResult()

    def run(self) -> CycleResult:
        try:
            self._harvest_with_inline_waits()
            self.result.complete = True
        except ArchiverError as exc:
            self.result.error = exc
            log.info("harvest of %s stopped: %s", self.account.account_id, exc.message)
        self._diff()
        self._stale_signals()
        if self.result.complete:
            try:
                self._confirm_missing()
            except ArchiverError as exc:
                self.result.error = exc
                self.result.complete = False
        return self.result

    # --- harvest ---------------------------------------------------------------------------

    def _harvest_with_inline_waits(self) -> None:
        attempt = 0
        while True:
            try:
                self._harvest_once()
                return
            except TryLater as exc:
                wait = (exc.retry_at - self.session.clock.now()).total_seconds()
                attempt += 1
                self.result.throttled += 1
                if wait > self.max_inline_wait or attempt > self.max_inline_retries:
                    raise
                log.info("throttled; waiting %.1fs inside the cycle", max(wait, 0))
                self.session.clock.sleep(max(wait, 0.0))

    def _events(self) -> Any:
        if getattr(self.connector, "incremental", False):
            return self.connector.harvest(self.account, self.cursor, self.session, plan=self.plan)  # type: ignore[call-arg]  # incremental connectors take the plan
        return self.connector.harvest(self.account, self.cursor, self.session)

    def _harvest_once(self) -> None:
        for event in self._events():
            if isinstance(event, Observed):
                self.seen[event.item.item_id] = event
                self._capture_media(event.item)
            elif isinstance(event, Covered):
                for kind in event.kinds:
                    key = (event.parent_id, str(kind))
                    if key in self.covered:  # two listings of one scope: the wider one counts
                        bounds = (self.covered[key], event.created_after)
                        self.covered[key] = None if None in bounds else min(bounds)  # type: ignore[type-var]  # no None left: checked just before
                    else:
                        self.covered[key] = event.created_after
            elif isinstance(event, Checked):
                self.checked.update(event.item_ids)
            elif isinstance(event, Checkpoint):
                self.result.cursor = event.cursor
            elif isinstance(event, ParseWarning):
                self.result.warnings.append(event)

    def _capture_media(self, item: Item) -> None:
        if not self.capture_media:
            return
        for ref in item.media:
            key = media_key(ref.url)
            if key in self.media_seen:
                continue
            self.media_seen.add(key)
            exchange = self.session.fetch_media(ref.url)
            if exchange is not None:
                self.result.media += 1

    # --- diff and deletions ----------------------------------------------------------------

    def _diff(self) -> None:
        writer = self.session.warc
        for item_id, obs in self.seen.items():
            known = self.known.get(item_id)
            if known is None:
                self.result.new.append(item_id)
            elif known.content_sha256 != obs.item.content_sha256:
                self.result.edited.append(item_id)
                writer.current.write_metadata(
                    {
                        OBSERVATION: "edited",
                        "platform": obs.item.platform,
                        "item-id": item_id,
                        "item-kind": str(obs.item.kind),
                        "previous-content-sha256": known.content_sha256,
                        "content-sha256": obs.item.content_sha256,
                    },
                    when=self.session.clock.now(),
                    refers_to=known.last_record_id or None,
                    concurrent_to=obs.evidence.record_id if obs.evidence else None,
                )
                writer.after_write()
            else:
                self.result.unchanged.append(item_id)

    def _stale_signals(self) -> None:
        parents = {parent for parent, _kind in self.covered}
        for item_id, obs in self.seen.items():
            signal = obs.item.signal
            if signal is None or item_id in parents:
                continue
            known = self.known.get(item_id)
            if known is None or known.signal != signal:
                self.result.stale_signals.append(item_id)

    def _is_covered(self, item: KnownItem) -> bool:
        """True when a complete listing of one of the item's ancestors includes its kind.

        Graph API's `filter=stream` lists replies with the post's comments, so a reply is
        covered by its post; a platform that lists replies per comment covers them there.
        """
        parent, hops = item.parent_id, 0
        while hops < 8:
            if (parent, item.kind) in self.covered:
                bound = self.covered[(parent, item.kind)]
                return bound is None or (item.created_at is not None and item.created_at > bound)
            if parent is None:
                return False
            ancestor = self.known.get(parent)
            parent = ancestor.parent_id if ancestor else None
            hops += 1
        return False

    def _missing(self) -> list[KnownItem]:
        """Known items absent from a listing that was read to its end."""
        return [
            k for k in self.known.values()
            if k.item_id not in self.seen and (k.item_id in self.checked or self._is_covered(k))
        ]

    def _confirm_missing(self) -> None:
        queue = self._missing()
        done: set[str] = set()
        while queue:
            known = queue.pop(0)
            if known.item_id in done:
                continue
            done.add(known.item_id)
            verdict = self.connector.confirm_gone(self.account, known.item_id, self.session)
            if isinstance(verdict, Present):
                self.result.still_present.append(known.item_id)
                continue
            self._record_gone(known, verdict)
            # Children of a deleted post or comment cannot be listed any more: check each.
            queue.extend(
                k for k in self.known.values()
                if k.parent_id == known.item_id and k.item_id not in done and k.item_id not in self.seen
            )

    def _record_gone(self, known: KnownItem, gone: Gone) -> None:
        evidence: WarcPointer | None = gone.evidence
        fields = {
            OBSERVATION: "deleted",
            "platform": self.account.platform,
            "account": self.account.account_id,
            "item-id": known.item_id,
            "item-kind": known.kind,
            "reason": gone.reason,
            "detail": gone.detail,
            "http-status": str(gone.status),
            "evidence-record-id": evidence.record_id if evidence else "",
            "evidence-location": location(evidence.filename, evidence.offset, evidence.length)
            if evidence
            else "",
            "last-seen-record-id": known.last_record_id,
        }
        self.session.warc.current.write_metadata(
            fields,
            when=self.session.clock.now(),
            refers_to=known.last_record_id or None,
            concurrent_to=evidence.record_id if evidence else None,
        )
        self.session.warc.after_write()
        self.result.deleted.append(known.item_id)
