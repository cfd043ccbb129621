"""A Graph-API-shaped fake of Instagram professional accounts (Instagram API with Facebook Login).

Shapes follow shared/research/platform_apis.md §2: /{ig-user-id}/media and /{media-id}/comments
with cursor paging whose `next` URL repeats the access token, replies expanded inline with their
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
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from archiver.sandbox.contract import SeededAccount
from connectors.facebook.sandbox import graph_error, graph_not_found
from archiver.sandbox.server import Request, Response

GRAPH_TIME = "%Y-%m-%dT%H:%M:%S+0000"
_DISCOVERY = re.compile(r"business_discovery\.username\((?P<name>[^)]*)\)")


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime(GRAPH_TIME)


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


class InstagramSandbox:
    """State plus an HTTP app (`__call__`) that answers like graph.facebook.com for IG."""

    def __init__(self, *, version: str = "v25.0", now: Callable[[], datetime] | None = None) -> None:
        self.version = version
        self.now = now or (lambda: datetime.now(UTC))
        self.base_url = ""
        self.accounts: dict[str, IgAccount] = {}
        self.pages: dict[str, tuple[str, str]] = {}  # page id -> (name, ig user id)
        self.tokens: dict[str, tuple[str, list[str]]] = {}  # token -> ("page"|"user", page ids)
        self.expired: set[str] = set()
        self.media: dict[str, IgMedia] = {}
        self.comments: dict[str, IgComment] = {}
        self.throttle_next = 0
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
        self.comments[comment_id].deleted = True
        for c in self.comments.values():
            if c.parent == comment_id:
                c.deleted = True

    def delete_media(self, media_id: str) -> None:
        self.media[media_id].deleted = True
        for c in self.comments.values():
            if c.media_id == media_id:
                c.deleted = True

    def live_ids(self, ig_id: str) -> set[str]:
        media = {m.id for m in self.media.values() if m.owner == ig_id and not m.deleted}
        return media | {c.id for c in self.comments.values() if c.media_id in media and not c.deleted}

    # --- HTTP ------------------------------------------------------------------------------

    def __call__(self, req: Request) -> Response:
        if req.path.startswith("/cdn/"):
            return self._cdn(req)
        parts = [p for p in req.path.split("/") if p]
        if not parts or parts[0] != self.version:
            return graph_error(400, "Unknown path components", "OAuthException", 2500)
        token = req.query.get("access_token", "")
        if not token:
            return graph_error(400, "An active access token must be used to query information about the current user.",
                          "OAuthException", 2500)
        if token in self.expired:
            return graph_error(400, "Error validating access token: Session has expired on Monday, 05-Jan-26 10:00:00 PST.",
                          "OAuthException", 190, 463)
        if token not in self.tokens:
            return graph_error(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            owner = next(iter(self.accounts), "0")
            usage = json.dumps({owner: [{"type": "instagram", "call_count": 100, "total_cputime": 12,
                                         "total_time": 30, "estimated_time_to_regain_access": 0}]})
            return graph_error(400, "(#80002) There have been too many calls to this Instagram account. Wait a bit "
                          "and try again. For more info, please refer to "
                          "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                          "OAuthException", 80002, headers=[("X-Business-Use-Case-Usage", usage)])
        kind, pages = self.tokens[token]
        headers = [("facebook-api-version", self.version),
                   ("x-app-usage", '{"call_count":1,"total_cputime":1,"total_time":1}')]
        if parts[1:] == ["me"]:
            return self._me(req, kind, pages, headers)
        if parts[1:] == ["me", "accounts"]:
            if kind != "user":
                return graph_error(400, "(#100) Tried accessing nonexisting field (accounts) on node type (Page)",
                              "OAuthException", 100)
            rows = [self._page_json(p) for p in pages]
            return Response.json({"data": rows, "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}}},
                                 headers=headers)
        if len(parts) == 3 and parts[2] == "media" and parts[1] not in self.accounts:
            return graph_not_found(parts[1])
        if len(parts) == 3 and parts[2] == "media":
            rows = sorted((m for m in self.media.values() if m.owner == parts[1] and not m.deleted),
                          key=lambda m: m.created, reverse=True)
            return Response.json(self._page_of(req, [self._media_json(m) for m in rows], token), headers=headers)
        if len(parts) == 3 and parts[2] == "comments":
            media = self.media.get(parts[1])
            if media is None or media.deleted:
                return graph_not_found(parts[1])
            rows = sorted((c for c in self.comments.values()
                           if c.media_id == media.id and c.parent is None and not c.deleted),
                          key=lambda c: (c.created, c.id), reverse=True)
            nested = "replies" in req.query.get("fields", "")
            return Response.json(self._page_of(req, [self._comment_json(c, nested, token) for c in rows], token,
                                               cap=50), headers=headers)
        if len(parts) == 3 and parts[2] == "replies":
            parent = self.comments.get(parts[1])
            if parent is None or parent.deleted:
                return graph_not_found(parts[1])
            rows = self._replies(parent.id)
            return Response.json(self._page_of(req, [self._comment_json(c, False, token) for c in rows], token,
                                               cap=50), headers=headers)
        if len(parts) == 2:
            return self._object(req, parts[1], headers)
        return graph_error(400, "Unknown path components", "OAuthException", 2500)

    def _me(self, req: Request, kind: str, pages: list[str], headers: list[tuple[str, str]]) -> Response:
        fields = req.query.get("fields", "")
        if kind == "user":
            if "instagram_business_account" in fields:
                return graph_error(400, "(#100) Tried accessing nonexisting field (instagram_business_account) "
                              "on node type (User)", "OAuthException", 100)
            return Response.json({"id": "5550001", "name": "District Communications"}, headers=headers)
        return Response.json(self._page_json(pages[0]), headers=headers)

    def _page_json(self, page_id: str) -> dict:
        name, ig_id = self.pages[page_id]
        data: dict = {"id": page_id, "name": name}
        if ig_id in self.accounts:
            data["instagram_business_account"] = {"id": ig_id, "username": self.accounts[ig_id].username}
        return data

    def _object(self, req: Request, object_id: str, headers: list[tuple[str, str]]) -> Response:
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
                                      "id": object_id}, headers=headers)
            return Response.json({"id": account.id, "username": account.username, "name": account.name,
                                  "media_count": sum(1 for m in self.media.values()
                                                     if m.owner == account.id and not m.deleted)}, headers=headers)
        media = self.media.get(object_id)
        if media is not None and not media.deleted:
            return Response.json(_only(self._media_json(media), fields), headers=headers)
        comment = self.comments.get(object_id)
        if comment is not None and not comment.deleted:
            data = self._comment_json(comment, False, "")
            data["media"] = {"id": comment.media_id}
            return Response.json(_only(data, fields), headers=headers)
        return graph_not_found(object_id)

    def _page_of(self, req: Request, rows: list[dict], token: str, cap: int = 100) -> dict:
        limit = min(int(req.query.get("limit") or 25), cap)
        start = int(base64.urlsafe_b64decode(req.query["after"]).decode()) if req.query.get("after") else 0
        chunk = rows[start:start + limit]
        out: dict = {"data": chunk}
        if chunk:
            before = base64.urlsafe_b64encode(str(start).encode()).decode()
            after = base64.urlsafe_b64encode(str(start + len(chunk)).encode()).decode()
            out["paging"] = {"cursors": {"before": before, "after": after}}
            if start + limit < len(rows):
                query = {k: v for k, v in req.query.items() if k not in ("after", "access_token")}
                query = {"access_token": token, "pretty": "0", **query, "after": after}
                out["paging"]["next"] = f"{self.base_url}{req.path}?{urlencode(query)}"
        return out

    def _replies(self, comment_id: str) -> list[IgComment]:
        return sorted((c for c in self.comments.values() if c.parent == comment_id and not c.deleted),
                      key=lambda c: (c.created, c.id))

    def _signed(self, path: str) -> str:
        expires = format(int(self.now().timestamp()) + 3 * 86400, "X")
        return f"{self.base_url}{path}?_nc_cat=108&ccb=1-7&_nc_sid=8ae9d6&oh=00_sandbox{next(self._ids)}&oe={expires}"

    def _media_json(self, m: IgMedia) -> dict:
        account = self.accounts[m.owner]
        data: dict = {
            "id": m.id,
            "media_type": m.media_type,
            "media_product_type": "FEED",
            "permalink": f"https://www.instagram.com/p/{m.shortcode}/",
            "shortcode": m.shortcode,
            "timestamp": _ts(m.created),
            "username": account.username,
            "comments_count": sum(1 for c in self.comments.values() if c.media_id == m.id and not c.deleted),
            "like_count": 7,
        }
        if m.caption:
            data["caption"] = m.caption
        if m.media_type == "VIDEO":
            data["media_url"] = self._signed(f"/cdn/v/t50.2886-16/{m.id}_n.mp4")
            data["thumbnail_url"] = self._signed(f"/cdn/v/t51.29350-15/{m.id}_thumb_n.jpg")
        else:
            data["media_url"] = self._signed(f"/cdn/v/t51.29350-15/{m.id}_n.jpg")
        if m.children:
            kids = []
            for child_id, kind in m.children:
                child: dict = {"id": child_id, "media_type": kind}
                if kind == "VIDEO":
                    child["media_url"] = self._signed(f"/cdn/v/t50.2886-16/{child_id}_n.mp4")
                    child["thumbnail_url"] = self._signed(f"/cdn/v/t51.29350-15/{child_id}_thumb_n.jpg")
                else:
                    child["media_url"] = self._signed(f"/cdn/v/t51.29350-15/{child_id}_n.jpg")
                kids.append(child)
            data["children"] = {"data": kids}
        data.update(self.field_override)
        return data

    def _comment_json(self, c: IgComment, nested: bool, token: str) -> dict:
        data: dict = {
            "id": c.id,
            "text": c.text,
            "timestamp": _ts(c.created),
            "username": c.author[0],
            "from": {"id": c.author[1], "username": c.author[0]},
            "hidden": c.hidden,
            "like_count": 0,
        }
        if c.parent:
            data["parent_id"] = c.parent
        if nested:
            replies = self._replies(c.id)
            if replies:  # Graph leaves an empty edge out
                shown = replies[: self.nested_limit]
                edge: dict = {"data": [self._comment_json(r, False, token) for r in shown]}
                if len(replies) > len(shown):
                    after = base64.urlsafe_b64encode(str(len(shown)).encode()).decode()
                    query = {"access_token": token, "limit": str(self.nested_limit), "after": after}
                    edge["paging"] = {"cursors": {"after": after},
                                      "next": f"{self.base_url}/{self.version}/{c.id}/replies?{urlencode(query)}"}
                data["replies"] = edge
        return data

    def _cdn(self, req: Request) -> Response:
        name = req.path.rsplit("/", 1)[-1]
        if name.endswith(".mp4"):
            return Response(200, b"\x00\x00\x00\x18ftypmp42sandbox-video-" + name.encode(),
                            [("Content-Type", "video/mp4")])
        body = b"\xff\xd8\xff\xe0JFIF-sandbox-ig-" + name.encode() + b"\xff\xd9"
        return Response(200, body, [("Content-Type", "image/jpeg")])


def _only(data: dict, fields: str) -> dict:
    """Graph returns only the fields asked for (plus id)."""
    if not fields:
        return data
    wanted = {f.split("{")[0].split(".")[0] for f in re.split(r",(?![^{]*})", fields)}
    return {k: v for k, v in data.items() if k in wanted or k == "id"}


# --- the contract-suite adapter ----------------------------------------------------------------

LINCOLN_IG, LINCOLN_PAGE = "17841400000000001", "1000001"
BULK_IG, BULK_PAGE = "17841400000000099", "1000099"


class InstagramContract:
    """Drives InstagramSandbox through the ContractSandbox verbs."""

    platform = "instagram"

    def __init__(self) -> None:
        self.token = "EAAGig-contract-user-token-5b2e"
        self.sandbox = InstagramSandbox()
        self.app = self.sandbox
        self._edits = 0

    def bind(self, base_url: str) -> None:
        self.sandbox.base_url = base_url

    def _ig_id(self, account_id: str) -> str:
        if account_id in self.sandbox.accounts:
            return account_id
        return next(a.id for a in self.sandbox.accounts.values() if a.username == account_id)

    def seed_account(self) -> SeededAccount:
        """55 media (3 pages at 25), an album and a video, comments and replies on the newest."""
        sb = self.sandbox
        sb.add_account(LINCOLN_IG, "lincolnhighschool", "Lincoln High School", LINCOLN_PAGE)
        sb.add_token(self.token, "user", [LINCOLN_PAGE])
        start = sb.now() - timedelta(days=60)
        for n in range(55):
            kind = "CAROUSEL_ALBUM" if n == 50 else "VIDEO" if n == 51 else "IMAGE"
            sb.publish(LINCOLN_IG, f"Lincoln High update #{n + 1}: spirit week, sports and clubs.",
                       media_type=kind, children=2 if n == 50 else 0, at=start + timedelta(days=n, hours=n % 5))
        recent = sorted((m for m in sb.media.values() if m.owner == LINCOLN_IG), key=lambda m: m.created)[-3:]
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
        start = sb.now() - timedelta(days=365)
        made = 0
        while made < count:
            media = sb.publish(BULK_IG, f"Bulk post {made}", at=start + timedelta(hours=made))
            made += 1
            for n in range(2):
                if made < count:
                    sb.comment(media, f"Bulk comment {n}", at=start + timedelta(hours=made, minutes=n + 1))
                    made += 1
        return SeededAccount(BULK_IG, BULK_IG, self.token, "Bulk Elementary")

    def live_item_ids(self, account_id: str) -> set[str]:
        return self.sandbox.live_ids(self._ig_id(account_id))

    def publish(self, account_id: str) -> str:
        return self.sandbox.publish(self._ig_id(account_id), "A new post from the contract suite.")

    def edit(self, item_id: str) -> None:
        """Captions change in place; comments cannot be edited on Instagram, only hidden."""
        self._edits += 1
        if item_id in self.sandbox.media:
            self.sandbox.edit_caption(item_id, f"Edited caption #{self._edits}")
        else:
            self.sandbox.hide(item_id, not self.sandbox.comments[item_id].hidden)

    def delete(self, item_id: str) -> None:
        if item_id in self.sandbox.media:
            self.sandbox.delete_media(item_id)
        else:
            self.sandbox.delete_comment(item_id)

    def throttle_next(self, count: int) -> None:
        self.sandbox.throttle_next = count

    def expire_token(self, token: str) -> None:
        self.sandbox.expired.add(token)
