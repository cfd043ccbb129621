"""Finding and showing captured items: what an officer searches when a request comes in."""

from __future__ import annotations

from archiver.app import App
from archiver.catalog import queries
from archiver.catalog.queries import ItemDetail, ItemSummary


def list_items(
    app: App,
    *,
    account: str | None = None,
    kind: str | None = None,
    deleted: bool | None = None,
    edited: bool | None = None,
    limit: int | None = None,
) -> list[ItemSummary]:
    """Items newest first, filtered; `limit` None means all of them."""
    with app.catalog.session() as s:
        return queries.list_items(s, account=account, kind=kind, deleted=deleted, edited=edited, limit=limit)


def show_item(app: App, item_id: str) -> ItemDetail:
    """Every version of one item, its deletion evidence and WARC pointers."""
    with app.catalog.session() as s:
        return queries.item_detail(s, item_id)
