"""A Graph-API-shaped fake of Instagram professional accounts (Instagram API with Facebook Login).

Shapes follow shared/research/platform_apis.md §2: /{ig-user-id}/media and /{media-id}/comments
with cursor paging whose `next` URL repeats the access token, only the `fields` asked for (in
edges too: `children{id,media_type}`), replies expanded inline with their
own `paging`, /{comment-id}/replies, the `hidden` flag, signed cdninstagram-style media URLs
(`oh=`, `oe=`) served from /cdn/, HTTP 400 envelopes keyed by `code`: 100/33 for deleted
objects, 190/463 for an expired token, 80002 for an Instagram-account throttle with
X-Business-Use-Case-Usage (type "instagram"), 110/2207013 for an unknown Business Discovery
username. A Page token answers /me with its `instagram_business_account`; a User token answers
/me/accounts with its Pages.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import Store, b64_offset, route, seed_bulk, spread
from archiver.sandbox.server import Request, Response
from connectors.facebook.graph_sandbox import (
    GraphApi,
    graph_error,
    graph_not_found,
    graph_throttle,
    graph_time,
)

_DISCOVERY = re.compile(r"business_discovery\.username\((?P<name>[^)]*)\)")


@dataclass
class IgAccount:
    id: str
    username: str
    name: str
    page_id: str


@dataclass
class IgMedia:
    id: str
    owner: str
    caption: str
    media_type: str  # IMAGE | VIDEO | CAROUSEL_ALBUM
    created: datetime
    shortcode: str
    children: list[tuple[str, str]] = field(default_factory=list)  # (child id, IMAGE|VIDEO)
    deleted: bool = False


@dataclass
class IgComment:
    id: str
    media_id: str
    text: str
    created: datetime
    author: tuple[str, str]  # (username, IGSID)
    parent: str | None = None
    hidden: bool = False
    deleted: bool = False


class InstagramSandbox(GraphApi):
    """graph.facebook.com as an Instagram professional account's token sees it."""

    cdn_tag = b"sandbox-ig"
    bearer_tokens = False

    def __init__(self, *, version: str = "v25.0", now: Callable[[], datetime] | None = None) -> None:
        super().__init__(version=version, now=now)
        self.accounts: dict[str, IgAccount] = {}
        self.pages: dict[str, tuple[str, str]] = {}  # page id -> (name, ig user id)
        self.tokens: dict[str, tuple[str, list[str]]] = {}  # token -> ("page"|"user", page ids)
        self.media: Store[IgMedia] = Store()
        self.comments: Store[IgComment] = Store()
        self.nested_limit = 25  # replies shown inline before the expansion pages
        self.field_override: dict[str, object] = {}  # media field -> value, to fake a type change
        self._ids = itertools.count(17_900_000_000_000_001)

    # --- timeline mutators -----------------------------------------------------------------

    def add_account(self, ig_id: str, username: str, name: str, page_id: str) -> None:
        self.accounts[ig_id] = IgAccount(ig_id, username, name, page_id)
        self.pages[page_id] = (name, ig_id)

    def add_token(self, token: str, kind: str, pages: list[str]) -> None:
        self.tokens[token] = (kind, pages)

    def publish(self, ig_id: str, caption: str, *, media_type: str = "IMAGE", children: int = 0,
                at: datetime | None = None) -> str:
        media_id = str(next(self._ids))
        shortcode = base64.urlsafe_b64encode(media_id.encode()).decode()[:11]
        kids = [(str(next(self._ids)), "VIDEO" if n == 1 else "IMAGE") for n in range(children)]
        self.media[media_id] = IgMedia(media_id, ig_id, caption, media_type, at or self.now(), shortcode, kids)
        return media_id

    def edit_caption(self, media_id: str, caption: str) -> None:
        self.media[media_id].caption = caption

    def comment(self, media_id: str, text: str, *, author: tuple[str, str] = ("parent.volunteer", "6100000001"),
                parent: str | None = None, at: datetime | None = None) -> str:
        comment_id = str(next(self._ids))
        self.comments[comment_id] = IgComment(comment_id, media_id, text, at or self.now(), author, parent)
        return comment_id

    def hide(self, comment_id: str, hidden: bool = True) -> None:
        self.comments[comment_id].hidden = hidden

    def delete_comment(self, comment_id: str) -> None:
        """Replies go with their comment ("You cannot get replies to a comment that has been deleted")."""
        self.comments.delete(comment_id, self.comments.live(lambda c: c.parent == comment_id))

    def delete_media(self, media_id: str) -> None:
        self.media.delete(media_id, self.comments.live(lambda c: c.media_id == media_id))

    def live_ids(self, ig_id: str) -> set[str]:
        media = {m.id for m in self.media.live(lambda m: m.owner == ig_id)}
        return media | {c.id for c in self.comments.live(lambda c: c.media_id in media)}

    # --- HTTP ------------------------------------------------------------------------------

    def faults(self, req: Request) -> Response | None:
        if self.take("throttle_next"):
            return graph_throttle(80002, "Instagram", next(iter(self.accounts), "0"), "instagram", 12, 30)
        return None

    @route("/me")
    def me(self, req: Request) -> Response:
        kind, pages = self.tokens[self.token_of(req)]
        if kind != "user":
            return Response.json(self._page_json(pages[0]))
        if "instagram_business_account" in req.query.get("fields", ""):
            return graph_error(400, "(#100) Tried accessing nonexisting field (instagram_business_account) "
                               "on node type (User)", "OAuthException", 100)
        return Response.json({"id": "5550001", "name": "District Communications"})

    @route("/me/accounts")
    def me_accounts(self, req: Request) -> Response:
        kind, pages = self.tokens[self.token_of(req)]
        if kind != "user":
            return graph_error(400, "(#100) Tried accessing nonexisting field (accounts) on node type (Page)",
                               "OAuthException", 100)
        return Response.json({"data": [self._page_json(p) for p in pages],
                              "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}})

    @route("/{ig_id}/media")
    def media_of(self, req: Request, ig_id: str) -> Response:
        if ig_id not in self.accounts:
            return graph_not_found(ig_id)
        rows = sorted(self.media.live(lambda m: m.owner == ig_id), key=lambda m: m.created, reverse=True)
        fields = req.query.get("fields", "")
        return Response.json(self.page_of(req, [_only(self._media_json(m), fields) for m in rows]))

    @route("/{media_id}/comments")
    def comments_of(self, req: Request, media_id: str) -> Response:
        media = self.media.get(media_id)
        if media is None or media.deleted:
            return graph_not_found(media_id)
        rows = sorted(self.comments.live(lambda c: c.media_id == media.id and c.parent is None),
                      key=lambda c: (c.created, c.id), reverse=True)
        nested = "replies" in req.query.get("fields", "")
        token = self.token_of(req)
        return Response.json(self.page_of(req, [self._comment_json(c, nested, token) for c in rows], cap=50))

    @route("/{comment_id}/replies")
    def replies_of(self, req: Request, comment_id: str) -> Response:
        parent = self.comments.get(comment_id)
        if parent is None or parent.deleted:
            return graph_not_found(comment_id)
        rows = [self._comment_json(c, False, "") for c in self._replies(parent.id)]
        return Response.json(self.page_of(req, rows, cap=50))

    @route("/{object_id}")
    def node(self, req: Request, object_id: str) -> Response:
        fields = req.query.get("fields", "")
        account = self.accounts.get(object_id)
        if account is not None:
            discovery = _DISCOVERY.search(fields)
            if discovery:
                wanted = discovery.group("name").lower()
                match = next((a for a in self.accounts.values() if a.username == wanted), None)
                if match is None:
                    return graph_error(400, "Invalid user id", "OAuthException", 110, 2207013)
                return Response.json({"business_discovery": {"id": match.id, "username": match.username},
                                      "id": object_id})
            return Response.json({"id": account.id, "username": account.username, "name": account.name,
                                  "media_count": len(self.media.live(lambda m: m.owner == account.id))})
        media = self.media.get(object_id)
        if media is not None and not media.deleted:
            return Response.json(_only(self._media_json(media), fields))
        comment = self.comments.get(object_id)
        if comment is not None and not comment.deleted:
            data = self._comment_json(comment, False, "")
            data["media"] = {"id": comment.media_id}
            return Response.json(_only(data, fields))
        return graph_not_found(object_id)

    def _page_json(self, page_id: str) -> dict[str, Any]:
        name, ig_id = self.pages[page_id]
        data: dict[str, Any] = {"id": page_id, "name": name}
        if ig_id in self.accounts:
            data["instagram_business_account"] = {"id": ig_id, "username": self.accounts[ig_id].username}
        return data

    def _replies(self, comment_id: str) -> list[IgComment]:
        return sorted(self.comments.live(lambda c: c.parent == comment_id), key=lambda c: (c.created, c.id))

    def _media_urls(self, media_id: str, kind: str) -> dict[str, str]:
        extra = "_nc_cat=108&ccb=1-7&_nc_sid=8ae9d6"
        if kind == "VIDEO":
            return {"media_url": self.signed(f"/cdn/v/t50.2886-16/{media_id}_n.mp4", extra),
                    "thumbnail_url": self.signed(f"/cdn/v/t51.29350-15/{media_id}_thumb_n.jpg", extra)}
        return {"media_url": self.signed(f"/cdn/v/t51.29350-15/{media_id}_n.jpg", extra)}

    def _media_json(self, m: IgMedia) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": m.id, "media_type": m.media_type, "media_product_type": "FEED",
            "permalink": f"https://www.instagram.com/p/{m.shortcode}/", "shortcode": m.shortcode,
            "timestamp": graph_time(m.created), "username": self.accounts[m.owner].username,
            "comments_count": len(self.comments.live(lambda c: c.media_id == m.id)), "like_count": 7,
        }
        if m.caption:
            data["caption"] = m.caption
        data.update(self._media_urls(m.id, m.media_type))
        if m.children:
            data["children"] = {"data": [{"id": child_id, "media_type": kind, **self._media_urls(child_id, kind)}
                                         for child_id, kind in m.children]}
        data.update(self.field_override)
        return data

    def _comment_json(self, c: IgComment, nested: bool, token: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": c.id, "text": c.text, "timestamp": graph_time(c.created), "username": c.author[0],
            "from": {"id": c.author[1], "username": c.author[0]}, "hidden": c.hidden, "like_count": 0,
        }
        if c.parent:
            data["parent_id"] = c.parent
        replies = self._replies(c.id) if nested else []
        if replies:  # Graph leaves an empty edge out
            shown = replies[: self.nested_limit]
            edge: dict[str, Any] = {"data": [self._comment_json(r, False, token) for r in shown]}
            if len(replies) > len(shown):
                after = b64_offset(len(shown))
                query = {"access_token": token, "limit": str(self.nested_limit), "after": after}
                edge["paging"] = {"cursors": {"after": after},
                                  "next": f"{self.base_url}/{self.version}/{c.id}/replies?{urlencode(query)}"}
            data["replies"] = edge
        return data


def _only(data: dict[str, Any], fields: str) -> dict[str, Any]:
    """Graph returns only the fields asked for (plus id), in edges too: `children{id,media_type}`
    gives each child those two fields. No `fields` at all: everything (the fake's shortcut)."""
    if not fields:
        return data
    wanted: dict[str, str] = {}
    for spec in _split_fields(fields):
        name, _, sub = spec.partition("{")
        wanted[name.split(".")[0].strip()] = sub[:-1] if sub.endswith("}") else ""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key != "id" and key not in wanted:
            continue
        sub = wanted.get(key, "")
        if sub and isinstance(value, dict) and isinstance(value.get("data"), list):
            value = {**value, "data": [_only(row, sub) if isinstance(row, dict) else row for row in value["data"]]}
        out[key] = value
    return out


def _split_fields(fields: str) -> list[str]:
    """A Graph `fields` list split at its top-level commas (not those inside `{...}`)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(fields):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(fields[start:i])
            start = i + 1
    parts.append(fields[start:])
    return [p for p in parts if p.strip()]


# --- the contract-suite adapter ----------------------------------------------------------------

LINCOLN_IG, LINCOLN_PAGE = "17841400000000001", "1000001"
BULK_IG, BULK_PAGE = "17841400000000099", "1000099"


class InstagramContract(ContractAdapter):
    """Drives InstagramSandbox through the ContractSandbox verbs."""

    platform = "instagram"
    token = "EAAGig-contract-user-token-5b2e"
    sandbox: InstagramSandbox

    def __init__(self) -> None:
        super().__init__(InstagramSandbox())

    def _ig_id(self, account_id: str) -> str:
        if account_id in self.sandbox.accounts:
            return account_id
        return next(a.id for a in self.sandbox.accounts.values() if a.username == account_id)

    def seed_account(self) -> SeededAccount:
        """55 media (3 pages at 25), an album and a video, comments and replies on the newest."""
        sb = self.sandbox
        sb.add_account(LINCOLN_IG, "lincolnhighschool", "Lincoln High School", LINCOLN_PAGE)
        sb.add_token(self.token, "user", [LINCOLN_PAGE])
        for n, when in enumerate(spread(55, days=60, start=sb.now(), hour_cycle=5)):
            kind = "CAROUSEL_ALBUM" if n == 50 else "VIDEO" if n == 51 else "IMAGE"
            sb.publish(LINCOLN_IG, f"Lincoln High update #{n + 1}: spirit week, sports and clubs.",
                       media_type=kind, children=2 if n == 50 else 0, at=when)
        recent = sorted(sb.media.live(lambda m: m.owner == LINCOLN_IG), key=lambda m: m.created)[-3:]
        for i, m in enumerate(recent):
            first = sb.comment(m.id, f"Go Lincoln! ({i})", at=m.created + timedelta(hours=1))
            sb.comment(m.id, "When does the season start?", author=("community.member", "6100000002"),
                       at=m.created + timedelta(hours=2))
            sb.comment(m.id, "@parent.volunteer thank you!", author=("lincolnhighschool", LINCOLN_IG),
                       parent=first, at=m.created + timedelta(hours=3))
        return SeededAccount("lincolnhighschool", "https://www.instagram.com/lincolnhighschool/", self.token,
                             "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        sb = self.sandbox
        sb.add_account(BULK_IG, "bulkelementary", "Bulk Elementary", BULK_PAGE)
        kind, pages = sb.tokens.get(self.token, ("user", []))
        sb.add_token(self.token, "user", [*pages, BULK_PAGE])
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: sb.publish(BULK_IG, text, at=at),
                  lambda media, text, at: sb.comment(media, text, at=at))
        return SeededAccount(BULK_IG, BULK_IG, self.token, "Bulk Elementary")

    def live_item_ids(self, account_id: str) -> set[str]:
        return self.sandbox.live_ids(self._ig_id(account_id))

    def publish(self, account_id: str) -> str:
        return self.sandbox.publish(self._ig_id(account_id), "A new post from the contract suite.")

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        when = sb.now() - timedelta(days=days)
        media = sb.publish(self._ig_id(account_id), f"A post from {days:g} days ago.", at=when)
        sb.comment(media, "An old question.", at=when + timedelta(hours=1))
        return media

    def comment_on(self, item_id: str) -> str:
        return self.sandbox.comment(item_id, "A new comment on an old post.", author=("late.reader", "6100000777"))

    def edit(self, item_id: str) -> None:
        """Captions change in place; comments cannot be edited on Instagram, only hidden."""
        if item_id in self.sandbox.media:
            self.sandbox.edit_caption(item_id, f"Edited caption #{self.next_edit()}")
        else:
            self.sandbox.hide(item_id, not self.sandbox.comments[item_id].hidden)

    def delete(self, item_id: str) -> None:
        if item_id in self.sandbox.media:
            self.sandbox.delete_media(item_id)
        else:
            self.sandbox.delete_comment(item_id)
