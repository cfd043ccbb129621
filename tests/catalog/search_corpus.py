"""A small catalog of posts, comments and replies written straight into the tables, for search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from archiver.catalog import search
from archiver.catalog import tables as t

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# id, kind, parent, author, versions (texts), deleted, days after T0
CORPUS = [
    ("p1", "post", None, "Lincoln High", ["Board meeting tonight: the bus contract is on the agenda."], False, 0),
    ("c1", "comment", "p1", "Pat Doe", ["The bus contract with Acme Transit costs too much!"], False, 1),
    ("r1", "reply", "c1", "Lincoln High", ["Thanks Pat, the contract details are online."], False, 2),
    ("c2", "comment", "p1", "Sam Roe", ["Call me at 555-201-7788 about the busses", "Call me about the buses"], False, 3),
    ("c3", "comment", "p1", "Ana Núñez", ["¿Dónde está la reunión? Señal débil en la escuela."], True, 4),
    ("p2", "post", None, "Lincoln High", ["Spring concert 🎵 tickets on sale <script>alert(1)</script>"], False, 10),
    ("c4", "comment", "p2", "Lee", ["مرحبا concert was great \u200f!"], False, 11),
    ("p3", "post", None, "Athletics", ["Contractors repaved the track; transportation update soon"], False, 20),
    ("c5", "comment", "p3", "Kim", ["Is the bus schedule changing? e-mail kim@example.org"], False, 21),
    ("p4", "post", None, "Athletics", ["Game night 2026 — café open, ½ price snacks, code 3e9abc"], False, 30),
]


def seed(session: Session, platform: str = "facebook") -> dict[str, int]:
    account = t.Account(platform=platform, account_id="1000001", name="Lincoln High School",
                        created_at=T0)
    session.add(account)
    session.flush()
    pks = {}
    fresh = []
    for item_id, kind, parent, author, texts, deleted, days in CORPUS:
        when = T0 + timedelta(days=days)
        item = t.Item(account_pk=account.id, platform=platform, item_id=item_id, kind=kind,
                      parent_id=parent, created_at=when, first_seen_at=when, last_seen_at=when,
                      deleted_at=when + timedelta(days=1) if deleted else None)
        session.add(item)
        for n, text in enumerate(texts, start=1):
            version = t.ItemVersion(item=item, version_no=n, content_sha256=f"{item_id}-{n}",
                                    content={"text": text}, text=text, author=author,
                                    observed_at=when + timedelta(hours=n), warc_file="x.warc.gz",
                                    warc_offset=0, warc_length=1, warc_record_id=f"<urn:{item_id}:{n}>")
            session.add(version)
            fresh.append(version)
        session.flush()
        pks[item_id] = item.id
    search.add_versions(session, fresh)
    return pks
