"""The search use case: full text over every version, each search an audit event."""

from __future__ import annotations

from archiver.app import App
from archiver.catalog import audit
from archiver.catalog.search import SearchFilters, SearchResult, search
from archiver.core.actor import current_actor

__all__ = ["SearchFilters", "SearchResult", "search_items"]


def search_items(app: App, query: str, filters: SearchFilters | None = None, *, limit: int = 100,
                 actor: str | None = None) -> SearchResult:
    """Search, and record who searched for what (the audit log shows how records were found)."""
    with app.catalog.session() as s:
        result = search(s, query, filters, limit=limit)
        audit.append(s, actor=actor or current_actor(), action="search", subject="",
                     details={"query": query, "filters": (filters or SearchFilters()).as_dict(),
                              "total": result.total, "shown": len(result.hits),
                              **({} if result.ranked else {"ranked": False, "more_than": result.cap})},
                     at=app.clock.now())
    return result
