"""A deletion is concluded only from a complete listing plus the platform's "not found"."""

from __future__ import annotations

from pathlib import Path

from connectors.facebook.sandbox import FacebookContract
from tests.harness import Harness


def test_a_listing_cut_short_marks_nothing_deleted(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()
        sandbox: FacebookContract = h.sandbox  # type: ignore[assignment]
        oldest = min((p for p in sandbox.sandbox.posts.values() if p.page_id == h.seed.account_id),
                     key=lambda p: p.created)
        sandbox.delete(oldest.id)  # really deleted, and on the last feed page
        sandbox.sandbox.fail_later_pages = True  # ... but the listing breaks after page one
        report = h.poll()
        assert report.status == "partial" and report.deleted == 0
        assert all(i.tombstone is None for i in h.items().values())
        sandbox.sandbox.fail_later_pages = False
        report = h.poll()  # a complete listing: now the deletion is confirmed, with evidence
        assert report.status == "complete" and report.deleted == 1
        assert h.items()[oldest.id].tombstone is not None
    finally:
        h.close()


def test_updated_time_alone_is_not_an_edit(tmp_path: Path) -> None:
    h = Harness(tmp_path, "facebook")
    try:
        h.poll()
        sandbox: FacebookContract = h.sandbox  # type: ignore[assignment]
        for post in list(sandbox.sandbox.posts.values())[:5]:
            sandbox.sandbox.touch_post(post.id)  # as a new comment or a like would
        report = h.poll()
        assert report.edited == 0
        assert all(len(i.versions) == 1 for i in h.items().values())
    finally:
        h.close()
