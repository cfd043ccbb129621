"""Finding and showing captured items: what an officer searches when a request comes in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from archiver.app import App
from archiver.catalog import queries
from archiver.catalog.queries import ItemDetail
from archiver.catalog.views import ItemPage
from archiver.core.errors import ArchiverError, ConfigError

DEFAULT_LIMIT = 50  # a screenful or two; --limit N or --all for more


def list_items(
    app: App,
    *,
    account: str | None = None,
    kind: str | None = None,
    deleted: bool | None = None,
    edited: bool | None = None,
    limit: int | None = DEFAULT_LIMIT,
    after: str | None = None,
) -> ItemPage:
    """Items newest first, filtered; `limit` None means all of them. `after` is the cursor a
    previous page gave (`next_cursor`): pages are read by keyset, so the thousandth costs what
    the first does, and no page counts the whole catalog (issue 13).

    `account` selects like `poll --account` (id, platform:id, account id or name) and is the
    same error when it matches no registered account, so a typo never reads as "0 items"."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be 1 or more (not {limit}); use --all to list every item")
    cursor = queries.Cursor.parse(after) if after else None
    pks = None
    if account is not None:  # the accounts service (credentials, models) only when filtering
        from archiver.services.accounts import select_accounts

        pks = [a.id for a in select_accounts(app, account)]
    with app.catalog.session() as s:
        if limit is None:
            rows = queries.list_items(s, account_pks=pks, kind=kind, deleted=deleted, edited=edited,
                                      after=cursor)
            return ItemPage(rows)
        rows, following = queries.list_page(s, limit=limit, after=cursor, account_pks=pks, kind=kind,
                                            deleted=deleted, edited=edited)
    return ItemPage(rows, following.token() if following else None)


def show_item(app: App, item_id: str) -> ItemDetail:
    """Every version of one item, its deletion evidence and WARC pointers, and its thread:
    the item it answers and the replies to it."""
    with app.catalog.session() as s:  # four statements at most (tests/preservation/test_read_path.py)
        detail = queries.item_detail(s, item_id)
        parent, replies = queries.item_thread(s, detail.summary)
    return dataclasses.replace(detail, parent=parent, replies=replies)


# Media types a browser may show inline from the console; anything else (SVG, HTML, scripts,
# unknown) is handed over as an opaque download, so a captured file never runs as a page.
INLINE_MEDIA = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif",
                          "video/mp4", "video/webm", "audio/mpeg", "audio/mp4", "audio/ogg"})


@dataclass(frozen=True)
class MediaContent:
    url: str
    content_type: str  # one of INLINE_MEDIA, or application/octet-stream
    inline: bool
    body: bytes


def media_content(app: App, item_id: str, index: int) -> MediaContent:
    """The bytes of an item's `index`th captured media file, read from the archive (never the
    platform's CDN), with a content type safe to serve."""
    detail = show_item(app, item_id)
    if not 0 <= index < len(detail.media) or not detail.media[index].get("file"):
        raise ArchiverError(f"Item {item_id} has no captured media file number {index}")
    from archiver.core.models import WarcPointer

    m = detail.media[index]
    record = app.warc_reader().record(WarcPointer(m["file"], int(m["offset"]), int(m["length"]), ""))
    declared = next((v for k, v in record.http_headers if k.lower() == "content-type"), "")
    kind = declared.split(";", 1)[0].strip().lower()
    inline = kind in INLINE_MEDIA
    return MediaContent(str(m["url"]), kind if inline else "application/octet-stream", inline, record.body)
