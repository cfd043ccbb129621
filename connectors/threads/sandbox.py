"""A fake of Meta's Threads API (graph.threads.net) for the token owner's own threads.

Shapes (Meta's Threads API reference): `/me` for the token's user, `/{user-id}/threads` with
Graph-style cursor paging (`paging.cursors`, a `next` URL that repeats the access token),
`/{media-id}/conversation` (every reply at every depth, flattened) and `/{media-id}/replies`
(top level only), reply fields `is_reply`, `root_post`, `replied_to`, `has_replies` and
`hide_status`, `owner` only on top-level posts the token's user owns, ISO times with `+0000`,
signed scontent URLs for media, and Graph's error envelope: 100/33 for a deleted post, 190/463
for an expired token, code 4 (application request limit) with X-App-Usage for a throttle. Built on the sandbox kit and the Graph parts
Facebook's sandbox already has.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import Store, route, seed_bulk, spread
from archiver.sandbox.server import Request, Response
from connectors.facebook.graph_sandbox import GraphApi, graph_error, graph_not_found, graph_time


@dataclass
class ThreadsPost:
    id: str
    owner: str  # the author's Threads user id
    username: str
    text: str
    created: datetime
    root: str | None = None  # the top-level post a reply belongs to
    replied_to: str | None = None
    image: bool = False
    hide_status: str = "NOT_HUSHED"
    deleted: bool = False


class ThreadsSandbox(GraphApi):
    """graph.threads.net/v1.0 as a Threads user token sees it."""

    cdn_tag = b"sandbox-threads"

    def __init__(self, *, version: str = "v1.0", now: Callable[[], datetime] | None = None) -> None:
        super().__init__(version=version, now=now)
        self.users: dict[str, tuple[str, str]] = {}  # user id -> (username, name)
        self.tokens: dict[str, str] = {}  # token -> user id
        self.posts: Store[ThreadsPost] = Store()
        self._ids = itertools.count(18_050_000_000_000_001)

    # --- timeline mutators -----------------------------------------------------------------

    def add_user(self, user_id: str, username: str, name: str) -> None:
        self.users[user_id] = (username, name)

    def post(self, user_id: str, text: str, *, reply_to: str | None = None, image: bool = False,
             at: datetime | None = None) -> str:
        post_id = str(next(self._ids))
        root = None
        if reply_to is not None:
            parent = self.posts[reply_to]
            root = parent.root or parent.id
        self.posts[post_id] = ThreadsPost(post_id, user_id, self.users[user_id][0], text, at or self.now(),
                                          root, reply_to, image)
        return post_id

    def edit(self, post_id: str, text: str) -> None:
        self.posts[post_id].text = text

    def hide(self, post_id: str) -> None:
        self.posts[post_id].hide_status = "HIDDEN"

    def delete(self, post_id: str) -> None:
        """A deleted reply takes its own replies out of the conversation; so does a post."""
        self.posts.delete(post_id, self.posts.live(lambda p: post_id in self._ancestry(p)))

    def _ancestry(self, post: ThreadsPost) -> list[str]:
        chain, parent = [], post.replied_to
        while parent is not None:
            chain.append(parent)
            parent = self.posts[parent].replied_to
        return chain

    def conversation(self, post_id: str) -> list[ThreadsPost]:
        return sorted(self.posts.live(lambda p: p.root == post_id), key=lambda p: (p.created, p.id))

    # --- HTTP ------------------------------------------------------------------------------

    def faults(self, req: Request) -> Response | None:
        if self.take("throttle_next"):
            return graph_error(400, "(#4) Application request limit reached", "OAuthException", 4, headers=[
                ("X-App-Usage", '{"call_count":100,"total_cputime":12,"total_time":30}')])
        return None

    @route("/me")
    def me(self, req: Request) -> Response:
        user_id = self.tokens[self.token_of(req)]
        username, name = self.users[user_id]
        return Response.json({"id": user_id, "username": username, "name": name,
                              "threads_profile_picture_url": self.signed(f"/cdn/v/t51.2885-19/{user_id}_n.jpg")})

    @route("/{user_id}/threads")
    def threads_of(self, req: Request, user_id: str) -> Response:
        if user_id not in self.users:
            return graph_not_found(user_id)
        rows = sorted(self.posts.live(lambda p: p.owner == user_id and p.root is None),
                      key=lambda p: (p.created, p.id), reverse=True)
        viewer = self.tokens.get(self.token_of(req))
        return Response.json(self.page_of(req, [self._json(p, viewer) for p in rows]))

    @route("/{post_id}/conversation")
    @route("/{post_id}/replies")
    def replies_of(self, req: Request, post_id: str) -> Response:
        post = self.posts.get(post_id)
        if post is None or post.deleted:
            return graph_not_found(post_id)
        rows = self.conversation(post_id)
        if req.path.endswith("/replies"):
            rows = [p for p in rows if p.replied_to == post_id]
        if req.query.get("reverse", "true") != "false":
            rows.reverse()
        return Response.json(self.page_of(req, [self._json(p) for p in rows]))

    @route("/{post_id}")
    def node(self, req: Request, post_id: str) -> Response:
        post = self.posts.get(post_id)
        if post is None or post.deleted:
            return graph_not_found(post_id)
        return Response.json(self._json(post, self.tokens.get(self.token_of(req))))

    def _json(self, p: ThreadsPost, viewer: str | None = None) -> dict[str, Any]:
        """`owner` only on a top-level post the token's user owns, as the reference says
        ("only available on top-level posts that you own"); replies never carry it."""
        data: dict[str, Any] = {
            "id": p.id, "media_product_type": "THREADS", "media_type": "IMAGE" if p.image else "TEXT_POST",
            "permalink": f"https://www.threads.net/@{p.username}/post/C{p.id[-9:]}",
            "username": p.username, "text": p.text, "timestamp": graph_time(p.created),
            "shortcode": f"C{p.id[-9:]}", "is_quote_post": False,
            "has_replies": any(c.replied_to == p.id for c in self.posts.live()),
        }
        if p.root is None and viewer == p.owner:
            data["owner"] = {"id": p.owner}
        if p.image:
            data["media_url"] = self.signed(f"/cdn/v/t51.2885-15/{p.id}_n.jpg", "stp=dst-jpg&_nc_cat=105")
        if p.root is not None:
            data.update(is_reply=True, root_post={"id": p.root}, replied_to={"id": p.replied_to},
                        hide_status=p.hide_status)
        return data


# --- the contract-suite adapter ----------------------------------------------------------------

LINCOLN, PARENT, NEIGHBOR, BULK = "27000000000000001", "27000000000000002", "27000000000000003", "27000000000000099"


class ThreadsContract(ContractAdapter):
    """Posts with conversations: comments (replies to a post) and replies to those."""

    platform = "threads"
    token = "THAAGcontract-threads-token-6d1e"
    sandbox: ThreadsSandbox

    def __init__(self) -> None:
        super().__init__(ThreadsSandbox())
        sb = self.sandbox
        sb.add_user(PARENT, "pta.volunteer", "PTA Volunteer")
        sb.add_user(NEIGHBOR, "community.member", "Community Member")

    def seed_account(self) -> SeededAccount:
        """55 posts (three pages at 25), one with an image; conversations on the newest three."""
        sb = self.sandbox
        sb.add_user(LINCOLN, "lincolnhighschool", "Lincoln High School")
        sb.tokens[self.token] = LINCOLN
        posts = [sb.post(LINCOLN, f"Lincoln High update #{n + 1}: schedules, sports and clubs.", image=n == 54, at=when)
                 for n, when in enumerate(spread(55, days=60, start=sb.now(), hour_cycle=7))]
        for i, post_id in enumerate(posts[-3:]):
            when = sb.posts[post_id].created
            first = sb.post(PARENT, f"Great news! ({i})", reply_to=post_id, at=when + timedelta(hours=1))
            sb.post(NEIGHBOR, "When is the next meeting?", reply_to=post_id, at=when + timedelta(hours=2))
            sb.post(LINCOLN, "Thank you - see the calendar.", reply_to=first, at=when + timedelta(hours=3))
        return SeededAccount("lincolnhighschool", "https://www.threads.net/@LincolnHighSchool", self.token,
                             "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        sb, token = self.sandbox, "THAAGbulk-threads-token-0b2c"
        sb.add_user(BULK, "bulkelementary", "Bulk Elementary")
        sb.tokens[token] = BULK
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: sb.post(BULK, text, at=at),
                  lambda post_id, text, at: sb.post(PARENT, text, reply_to=post_id, at=at))
        return SeededAccount("bulkelementary", "@bulkelementary", token, "Bulk Elementary")

    def _user(self, account_id: str) -> str:
        return next(uid for uid, (name, _) in self.sandbox.users.items() if name == account_id)

    def live_item_ids(self, account_id: str) -> set[str]:
        sb = self.sandbox
        posts = {p.id for p in sb.posts.live(lambda p: p.owner == self._user(account_id) and p.root is None)}
        return posts | {p.id for p in sb.posts.live(lambda p: p.root in posts)}

    def publish(self, account_id: str) -> str:
        return self.sandbox.post(self._user(account_id), "A new thread from the contract suite.")

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        when = sb.now() - timedelta(days=days)
        post = sb.post(self._user(account_id), f"A thread from {days:g} days ago.", at=when)
        sb.post(PARENT, "An old question.", reply_to=post, at=when + timedelta(hours=1))
        return post

    def comment_on(self, item_id: str) -> str:
        return self.sandbox.post(NEIGHBOR, "A new reply to an old thread.", reply_to=item_id)

    def edit(self, item_id: str) -> None:
        self.sandbox.edit(item_id, f"Edited text #{self.next_edit()}")

    def delete(self, item_id: str) -> None:
        self.sandbox.delete(item_id)
