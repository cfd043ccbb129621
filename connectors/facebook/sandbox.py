"""A Graph-API-shaped fake of Facebook Pages, faithful where the archiver depends on it.

Shapes follow shared/research/platform_apis.md §1: cursor paging whose `next` URL repeats the
access token (as the real API does), comments with `filter=stream` flattening replies,
HTTP 400 envelopes keyed by `code` (100/33 for deleted objects with a WWW-Authenticate header,
190/463 for an expired token, 80001 for Page throttling with X-Business-Use-Case-Usage).
The Graph parts Instagram shares are in graph_sandbox.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import Store, broken_json, route, seed_bulk, spread
from archiver.sandbox.server import Request, Response
from connectors.facebook.graph_sandbox import (
    GraphApi,
    graph_error,
    graph_not_found,
    graph_throttle,
    graph_time,
)


@dataclass
class FbPost:
    id: str
    page_id: str
    message: str
    created: datetime
    updated: datetime
    picture: str = ""
    hidden: bool = False
    deleted: bool = False


@dataclass
class FbComment:
    id: str
    post_id: str
    message: str
    created: datetime
    author: tuple[str, str]
    parent: str | None = None
    hidden: bool = False
    deleted: bool = False


class GraphSandbox(GraphApi):
    """Facebook Pages: feed, comments, single objects, photos on the CDN."""

    cdn_tag = b"sandbox-image"

    def __init__(self, *, tokens: set[str], version: str = "v21.0",
                 now: Callable[[], datetime] | None = None) -> None:
        super().__init__(version=version, now=now)
        self.tokens = set(tokens)
        self.pages: dict[str, str] = {}
        self.posts: Store[FbPost] = Store()
        self.comments: Store[FbComment] = Store()
        self.fail_later_pages = False  # every feed page after the first answers HTTP 500
        self.edits = 0  # content edits made, for the demo's expected totals

    # --- timeline mutators -----------------------------------------------------------------

    def add_page(self, page_id: str, name: str) -> None:
        self.pages[page_id] = name

    def publish(self, page_id: str, message: str, *, picture: bool = False, at: datetime | None = None) -> str:
        when = at or self.now()
        post_id = f"{page_id}_{next(self._ids)}"
        self.posts[post_id] = FbPost(post_id, page_id, message, when, when, f"/cdn/{post_id}.jpg" if picture else "")
        return post_id

    def edit_post(self, post_id: str, message: str) -> None:
        post = self.posts[post_id]
        post.message, post.updated = message, self.now()
        self.edits += 1

    def touch_post(self, post_id: str) -> None:
        """updated_time moves (as with a new comment) while the content stays the same."""
        self.posts[post_id].updated = self.now()

    def comment(self, post_id: str, message: str, *, author: tuple[str, str] = ("Parent Volunteer", "900001"),
                parent: str | None = None, at: datetime | None = None) -> str:
        comment_id = f"{post_id.split('_')[1]}_{next(self._ids)}"
        self.comments[comment_id] = FbComment(comment_id, post_id, message, at or self.now(), author, parent)
        self.touch_post(post_id)
        return comment_id

    def edit_comment(self, comment_id: str, message: str) -> None:
        self.comments[comment_id].message = message
        self.edits += 1

    def hide_comment(self, comment_id: str) -> None:
        self.comments[comment_id].hidden = True
        self.edits += 1

    def delete_comment(self, comment_id: str) -> None:
        self.comments.delete(comment_id)

    def delete_post(self, post_id: str) -> None:
        self.posts.delete(post_id, self.comments.live(lambda c: c.post_id == post_id))

    # --- HTTP ------------------------------------------------------------------------------

    def faults(self, req: Request) -> Response | None:
        if (self.fail_later_pages and req.query.get("after") and req.path.endswith("/feed")) \
                or self.take("fail_next_5xx"):
            return graph_error(500, "An unknown error has occurred.", "OAuthException", 1)
        if self.take("throttle_next"):
            parts = req.path.split("/")
            return graph_throttle(80001, "Page", parts[2].split("_")[0] if len(parts) > 2 else "0", "pages", 40, 60)
        if self.take("malformed_next"):
            return broken_json(b'{"data": [{"id": "broken')
        return None

    @route("/{page_id}/feed")
    @route("/{page_id}/posts")
    @route("/{page_id}/published_posts")
    def feed(self, req: Request, page_id: str) -> Response:
        if page_id not in self.pages:
            return graph_not_found(page_id)
        posts = sorted(self.posts.live(lambda p: p.page_id == page_id), key=lambda p: p.created, reverse=True)
        summary = "comments.summary(true)" in req.query.get("fields", "")
        return Response.json(self.page_of(req, [self._post_json(p, summary) for p in posts]))

    @route("/{object_id}/comments")
    def comments_of(self, req: Request, object_id: str) -> Response:
        post = self.posts.get(object_id)
        if post is None or post.deleted:
            return graph_not_found(object_id)
        stream = req.query.get("filter") == "stream"
        rows = sorted(self.comments.live(lambda c: c.post_id == object_id and (stream or c.parent is None)),
                      key=lambda c: (c.created, c.id))
        page = self.page_of(req, [self._comment_json(c) for c in rows])
        page["summary"] = {"order": "chronological", "total_count": len(rows), "can_comment": True}
        return Response.json(page)

    @route("/{object_id}")
    def node(self, req: Request, object_id: str) -> Response:
        if object_id in self.pages:
            return Response.json({"id": object_id, "name": self.pages[object_id]})
        post = self.posts.get(object_id)
        if post is not None and not post.deleted:
            return Response.json(self._post_json(post))
        comment = self.comments.get(object_id)
        if comment is not None and not comment.deleted:
            return Response.json(self._comment_json(comment))
        return graph_not_found(object_id)

    def _post_json(self, p: FbPost, summary: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": p.id, "created_time": graph_time(p.created), "updated_time": graph_time(p.updated),
            "message": p.message, "permalink_url": f"https://www.facebook.com/{p.page_id}/posts/{p.id.split('_')[1]}/",
            "status_type": "added_photos" if p.picture else "mobile_status_update",
            "is_hidden": p.hidden, "is_published": True, "from": {"name": self.pages.get(p.page_id, ""), "id": p.page_id},
        }
        if summary:  # `comments.summary(true).limit(0)`: no comments, only their total
            total = len(self.comments.live(lambda c: c.post_id == p.id))
            data["comments"] = {"data": [], "summary": {"order": "ranked", "total_count": total, "can_comment": True}}
        if p.picture:
            src = self.signed(p.picture)
            data["full_picture"] = src
            photo_id = p.id.split("_")[1] + "9"
            url = f"https://www.facebook.com/photo.php?fbid={photo_id}"
            data["attachments"] = {"data": [{
                "media": {"image": {"height": 720, "src": src, "width": 720}}, "media_type": "photo",
                "target": {"id": photo_id, "url": url}, "type": "photo", "url": url}]}
        return data

    def _comment_json(self, c: FbComment) -> dict[str, Any]:
        page_id, post_num = c.post_id.split("_")
        data: dict[str, Any] = {
            "id": c.id, "created_time": graph_time(c.created), "from": {"name": c.author[0], "id": c.author[1]},
            "message": c.message, "comment_count": len(self.comments.live(lambda o: o.parent == c.id)),
            "like_count": 0, "is_hidden": c.hidden,
            "permalink_url": f"https://www.facebook.com/{page_id}/posts/{post_num}/?comment_id={c.id.split('_')[1]}",
        }
        if c.parent:
            data["parent"] = {"id": c.parent}
        return data


# --- the contract-suite adapter and the scripted demo timeline ---------------------------------

LINCOLN, DISTRICT = "1000001", "1000002"


class FacebookContract(ContractAdapter):
    """Two Pages (a school, the district office); three demo cycles: an initial archive, then
    edits, comments and a throttle, then deletions."""

    platform = "facebook"
    token = "EAAB-contract-token-7f3a9c"
    sandbox: GraphSandbox

    def __init__(self) -> None:
        super().__init__(GraphSandbox(tokens=set()))
        self.marks: dict[str, str] = {}

    def seed_account(self) -> SeededAccount:
        sb = self.sandbox
        if not self.marks:
            sb.add_page(LINCOLN, "Lincoln High School")
            sb.add_page(DISTRICT, "Riverside School District")
            for n, when in enumerate(spread(55, days=60, start=sb.now(), hour_cycle=7)):
                sb.publish(LINCOLN, f"Lincoln High update #{n + 1}: schedules, sports and clubs.",
                           picture=(n == 54), at=when)
            recent = sorted(sb.posts.live(lambda p: p.page_id == LINCOLN), key=lambda p: p.created)[-3:]
            for i, post in enumerate(recent):
                first = sb.comment(post.id, f"Great news! ({i})", at=post.created + timedelta(hours=1))
                sb.comment(post.id, "When is the next meeting?", author=("Community Member", "900002"),
                           at=post.created + timedelta(hours=2))
                sb.comment(post.id, "Thank you for asking - see the calendar.", author=("Lincoln High School", LINCOLN),
                           parent=first, at=post.created + timedelta(hours=3))
                self.marks[f"recent{i}"], self.marks[f"recent{i}_first"] = post.id, first
            start = sb.now() - timedelta(days=60)
            for n in range(4):
                pid = sb.publish(DISTRICT, f"Board meeting notice {n + 1}", at=start + timedelta(days=10 * n))
                self.marks[f"district{n}_comment"] = sb.comment(pid, "Will it be streamed?",
                                                                at=start + timedelta(days=10 * n, hours=1))
        return SeededAccount(LINCOLN, f"https://www.facebook.com/{LINCOLN}", self.token, "Lincoln High School")

    def demo_accounts(self) -> list[SeededAccount]:
        return [self.seed_account(), SeededAccount(DISTRICT, DISTRICT, self.token, "Riverside School District")]

    def before_cycle(self, cycle: int) -> int:
        sb, m = self.sandbox, self.marks
        edits_before = sb.edits
        if cycle == 2:
            m["new_post"] = sb.publish(LINCOLN, "Snow day: all Lincoln schools closed tomorrow.", picture=True)
            sb.edit_post(m["recent0"], "Lincoln High update: CORRECTED schedule for finals week.")
            sb.touch_post(m["recent1"])
            c = sb.comment(m["recent2"], "Is the gym open during the snow day?", author=("Student Parent", "900003"))
            sb.comment(m["recent2"], "The gym is closed as well.", author=("Lincoln High School", LINCOLN), parent=c)
            tops = sorted(sb.comments.live(lambda c: c.post_id == m["recent0"] and c.parent is None),
                          key=lambda c: c.created)
            sb.delete_comment(tops[1].id)
            sb.throttle_next = 1
        elif cycle == 3:
            sb.delete_post(m["recent1"])
            sb.edit_comment(m["district0_comment"], "Will it be streamed? (edited: and recorded?)")
            sb.hide_comment(m["recent2_first"])
            sb.publish(DISTRICT, "Reminder: enrollment opens Monday.")
        return sb.edits - edits_before

    def seed_bulk(self, count: int) -> SeededAccount:
        """Posts with two comments each: a third of the items are posts."""
        sb, page = self.sandbox, "1000099"
        sb.add_page(page, "Bulk Elementary")
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: sb.publish(page, text, at=at),
                  lambda post, text, at: sb.comment(post, text, at=at))
        return SeededAccount(page, page, self.token, "Bulk Elementary")

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        when = sb.now() - timedelta(days=days)
        post = sb.publish(account_id, f"An announcement from {days:g} days ago.", at=when)
        sb.comment(post, "An old question.", at=when + timedelta(hours=1))
        sb.posts[post].updated = when + timedelta(hours=1)
        return post

    def comment_on(self, item_id: str) -> str:
        return self.sandbox.comment(item_id, "A new comment on an old post.", author=("Late Reader", "900777"))

    def live_item_ids(self, account_id: str) -> set[str]:
        posts = {p.id for p in self.sandbox.posts.live(lambda p: p.page_id == account_id)}
        return posts | {c.id for c in self.sandbox.comments.live(lambda c: c.post_id in posts)}

    def publish(self, account_id: str) -> str:
        return self.sandbox.publish(account_id, "A new announcement from the contract suite.")

    def edit(self, item_id: str) -> None:
        if item_id in self.sandbox.posts:
            self.sandbox.edit_post(item_id, f"Edited text #{self.next_edit()}")
        else:
            self.sandbox.edit_comment(item_id, f"Edited comment #{self.next_edit()}")

    def delete(self, item_id: str) -> None:
        if item_id in self.sandbox.posts:
            self.sandbox.delete_post(item_id)
        else:
            self.sandbox.delete_comment(item_id)
