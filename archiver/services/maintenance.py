"""The archive's maintenance: rebuild the catalog from the WARCs and check fixity.

Thin on purpose: the work lives in archiver.preservation; this is the door the CLI, the daemon
and a web console share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from archiver.app import App
from archiver.preservation import fixity
from archiver.preservation.fixity import FixityReport, ObjectCheck

if TYPE_CHECKING:  # rebuild imports the indexer and the retention rules: `verify` needs neither
    from archiver.preservation.rebuild import RebuildReport


def stored_warc_count(app: App) -> int:
    """How many WARC objects the store holds (for a progress bar's total)."""
    from archiver.preservation.rebuild import stored_warc_keys

    return len(stored_warc_keys(app))


def rebuild_catalog(app: App, *, apply: bool = False,
                    on_warc: Callable[[str], None] | None = None) -> RebuildReport:
    """Recreate the catalog from the stored WARCs alone and compare (replace it with `apply`)."""
    from archiver.preservation.rebuild import rebuild

    return rebuild(app, apply=apply, progress=on_warc)


def check_verify_options(sample_pct: float | None, all_: bool) -> None:
    """Refuse bad options before any work (or progress output) starts."""
    fixity.sample_share(sample_pct, all_)


def verify(app: App, *, sample_pct: float | None, all_: bool, deep: bool = False,
           on_plan: Callable[[int], None] | None = None,
           on_object: Callable[[ObjectCheck], None] | None = None) -> FixityReport:
    """Re-read stored objects (all, or a random share) and record the verdicts; `deep`
    recomputes every WARC record digest (otherwise only where no deep check of the same
    plaintext passed before)."""
    return fixity.verify(app, sample_pct=sample_pct, all_=all_, deep=deep, on_plan=on_plan,
                         on_object=on_object)
