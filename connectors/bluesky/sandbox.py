"""An AppView-shaped fake of Bluesky (app.bsky over XRPC), faithful where the archiver depends on it.

Shapes follow shared/research/platform_apis.md §8: `getAuthorFeed` with an opaque cursor that
is absent once a page comes back empty, `getPostThread` with `depth`/`parentHeight`, replies
cut at the depth limit, deleted replies that still have replies shown as `notFoundPost`,
400 `{"error":"NotFound","message":"Post not found: <uri>"}` for a deleted anchor, content-
addressed cids (a rewritten record gets a new cid), `RateLimit-*` headers with an epoch reset,
429 `RateLimitExceeded`, and 400 `ExpiredToken` / `InvalidToken` for bad access JWTs.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import (
    PlatformSandbox,
    Store,
    bearer,
    broken_json,
    int_arg,
    iso_millis,
    route,
    seed_bulk,
    spread,
)
from archiver.sandbox.server import Request, Response

POST_NSID = "app.bsky.feed.post"
THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"


def fake_cid(data: Any, prefix: str = "bafyrei") -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    return prefix + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def fake_did(name: str) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    digest = hashlib.sha256(name.encode()).digest()
    return "did:plc:" + "".join(alphabet[b % 32] for b in digest[:24])


@dataclass
class BActor:
    did: str
    handle: str
    display_name: str


@dataclass
class BPost:
    uri: str
    author: str
    text: str
    created: datetime
    reply_parent: str | None = None
    reply_root: str | None = None
    images: list[str] = field(default_factory=list)  # blob cids
    labels: list[str] = field(default_factory=list)
    deleted: bool = False
    repost_of: str | None = None  # an app.bsky.feed.repost record instead of a post
    reply_cids: tuple[str, str] = ("", "")  # strong refs: parent and root cids when the reply was made

    def record(self, sandbox: BlueskySandbox) -> dict[str, Any]:
        rec: dict[str, Any] = {"$type": POST_NSID, "createdAt": iso_millis(self.created), "langs": ["en"], "text": self.text}
        if self.reply_parent:
            rec["reply"] = {"parent": {"uri": self.reply_parent, "cid": self.reply_cids[0]},
                            "root": {"uri": self.reply_root or self.reply_parent, "cid": self.reply_cids[1]}}
        if self.images:
            rec["embed"] = {"$type": "app.bsky.embed.images", "images": [
                {"alt": "Students at the science fair",
                 "image": {"$type": "blob", "mimeType": "image/jpeg", "ref": {"$link": cid}, "size": 4114},
                 "aspectRatio": {"height": 3000, "width": 4000}} for cid in self.images]}
        return rec

    def cid(self, sandbox: BlueskySandbox) -> str:
        return fake_cid(self.record(sandbox))


class BlueskySandbox(PlatformSandbox):
    """Answers like https://public.api.bsky.app/xrpc."""

    cdn_prefix = "/img/"
    cdn_tag = b"bluesky-sandbox"
    headers_on_errors = True

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now=now)
        self.actors: dict[str, BActor] = {}
        self.posts: Store[BPost] = Store()
        self.tokens: set[str] = set()
        self.app_passwords: dict[str, str] = {}  # handle -> app password (createSession)
        self.refresh_tokens: set[str] = set()
        self.anchor_tombstones = False  # answer a deleted anchor with 200 + notFoundPost
        self.overrides: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._seq = itertools.count(1)

    # --- timeline mutators -----------------------------------------------------------------

    def add_actor(self, handle: str, display_name: str) -> str:
        did = fake_did(handle)
        self.actors[did] = BActor(did, handle, display_name)
        return did

    def _rkey(self, when: datetime) -> str:
        alphabet = "234567abcdefghijklmnopqrstuvwxyz"
        n = (int(when.timestamp() * 1_000_000) << 10) + next(self._seq) % 1024
        out = ""
        for _ in range(13):
            out = alphabet[n % 32] + out
            n //= 32
        return out

    def post(self, did: str, text: str, *, reply_to: str | None = None, image: bool = False,
             at: datetime | None = None) -> str:
        when = at or self.now()
        uri = f"at://{did}/{POST_NSID}/{self._rkey(when)}"
        root, cids = None, ("", "")
        if reply_to:
            parent = self.posts[reply_to]
            root = parent.reply_root or parent.uri
            cids = (parent.cid(self), self.posts[root].cid(self))
        images = [fake_cid({"blob": uri}, "bafkrei")] if image else []
        self.posts[uri] = BPost(uri, did, text, when, reply_to, root, images, reply_cids=cids)
        return uri

    def repost(self, did: str, subject: str, *, at: datetime | None = None) -> str:
        when = at or self.now()
        uri = f"at://{did}/app.bsky.feed.repost/{self._rkey(when)}"
        self.posts[uri] = BPost(uri, did, "", when, repost_of=subject)
        return uri

    def rewrite(self, uri: str, text: str) -> None:
        """putRecord: same uri, new record, new cid (Bluesky has no edit feature of its own)."""
        self.posts[uri].text = text

    def delete(self, uri: str) -> None:
        self.posts.delete(uri)

    def live(self, uri: str) -> BPost | None:
        post = self.posts.get(uri)
        return post if post is not None and not post.deleted and post.repost_of is None else None

    def children(self, uri: str) -> list[BPost]:
        return sorted((p for p in self.posts.values() if p.reply_parent == uri and p.repost_of is None),
                      key=lambda p: p.created)

    # --- JSON shapes -----------------------------------------------------------------------

    def _profile(self, did: str) -> dict[str, Any]:
        actor = self.actors[did]
        return {"did": did, "handle": actor.handle, "displayName": actor.display_name,
                "avatar": f"{self.base_url}/img/avatar/plain/{did}/bafkreiavatar@jpeg",
                "createdAt": "2023-04-12T04:53:57.057Z", "labels": [],
                "viewer": {"blockedBy": False, "muted": False}}

    def post_view(self, post: BPost) -> dict[str, Any]:
        view: dict[str, Any] = {
            "uri": post.uri,
            "cid": post.cid(self),
            "author": self._profile(post.author),
            "record": post.record(self),
            "replyCount": sum(1 for c in self.children(post.uri) if not c.deleted),
            "repostCount": 1,
            "likeCount": 4,
            "quoteCount": 0,
            "bookmarkCount": 0,
            "indexedAt": iso_millis(post.created + timedelta(seconds=1)),
            "labels": [{"src": post.author, "uri": post.uri, "cid": post.cid(self), "val": v,
                        "cts": iso_millis(post.created)} for v in post.labels],
            "viewer": {"bookmarked": False, "embeddingDisabled": False, "threadMuted": False},
        }
        if post.images:
            view["embed"] = {"$type": "app.bsky.embed.images#view", "images": [
                {"thumb": f"{self.base_url}/img/feed_thumbnail/plain/{post.author}/{cid}@jpeg",
                 "fullsize": f"{self.base_url}/img/feed_fullsize/plain/{post.author}/{cid}@jpeg",
                 "alt": "Students at the science fair", "aspectRatio": {"height": 3000, "width": 4000}}
                for cid in post.images]}
        override = self.overrides.get(post.uri)
        return override(view) if override else view

    # --- HTTP ------------------------------------------------------------------------------

    def _rate_headers(self, remaining: int = 2999, reset: int | None = None) -> list[tuple[str, str]]:
        reset = reset or int(self.now().timestamp()) + 300
        return [("RateLimit-Limit", "3000"), ("RateLimit-Remaining", str(remaining)),
                ("RateLimit-Reset", str(reset)), ("RateLimit-Policy", "3000;w=300")]

    def _session(self, req: Request) -> Response:
        """createSession with handle + app password; refreshSession with the refresh JWT."""
        if req.path.endswith("createSession"):
            body = json.loads(req.body or b"{}")
            handle = str(body.get("identifier", ""))
            if self.app_passwords.get(handle) != body.get("password"):
                return _xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
            return _issue(self, handle)
        token = req.header("authorization").removeprefix("Bearer ").strip()
        if token not in self.refresh_tokens:
            return _xrpc_error(400, "ExpiredToken", "Token has been revoked")
        self.refresh_tokens.discard(token)
        return _issue(self, token.split("-", 3)[-1])

    def gate(self, req: Request) -> Response | None:
        if not req.path.startswith("/xrpc/"):
            return Response(404, b"Not Found", [("Content-Type", "text/plain")])
        if req.path in ("/xrpc/com.atproto.server.createSession", "/xrpc/com.atproto.server.refreshSession"):
            return self._session(req)  # logins: before the token and fault checks
        state = self.token_state(bearer(req))
        if state == "expired":
            return _xrpc_error(400, "ExpiredToken", "Token has expired")
        if state not in ("ok", "missing"):
            return _xrpc_error(400, "InvalidToken", "Token could not be verified")
        if self.take("throttle_next"):
            return _xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded",
                               self._rate_headers(0, int(self.now().timestamp()) + 1))
        if self.take("malformed_next"):
            return broken_json(b'{"feed": [{"post": ')
        exhausted = self.take("exhaust_next")
        req.reply_headers += self._rate_headers(0, int(self.now().timestamp()) + 1) if exhausted else self._rate_headers()
        return None

    def no_route(self, req: Request) -> Response:
        return _xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")

    @route("/xrpc/com.atproto.identity.resolveHandle")
    def resolve_handle(self, req: Request) -> Response:
        handle = req.query.get("handle", "").lower()
        for actor in self.actors.values():
            if actor.handle == handle:
                return Response.json({"did": actor.did})
        return _xrpc_error(400, "InvalidRequest", "Unable to resolve handle")

    @route("/xrpc/app.bsky.actor.getProfile")
    def get_profile(self, req: Request) -> Response:
        did = self._actor(req.query.get("actor", ""))
        return Response.json(self._profile(did)) if did else _profile_not_found()

    def _actor(self, actor: str) -> str | None:
        if actor in self.actors:
            return actor
        return next((a.did for a in self.actors.values() if a.handle == actor.lower()), None)

    @route("/xrpc/app.bsky.feed.getAuthorFeed")
    def author_feed(self, req: Request) -> Response:
        did = self._actor(req.query.get("actor", ""))
        if did is None:
            return _profile_not_found()
        limit = int_arg(req, "limit", 50, 1, 100)
        rows = sorted((p for p in self.posts.values() if p.author == did and not p.deleted),
                      key=lambda p: (p.created, p.uri), reverse=True)
        if req.query.get("filter") == "posts_no_replies":
            rows = [p for p in rows if p.reply_parent is None]
        if req.query.get("cursor"):
            when, _, uri = base64.urlsafe_b64decode(req.query["cursor"]).decode().partition("|")
            rows = [p for p in rows if (iso_millis(p.created), p.uri) < (when, uri)]
        page = rows[:limit]
        feed = []
        for p in page:
            if p.repost_of:
                subject = self.live(p.repost_of)
                if subject is None:
                    continue
                feed.append({"post": self.post_view(subject), "reason": {
                    "$type": "app.bsky.feed.defs#reasonRepost", "by": self._profile(did),
                    "uri": p.uri, "cid": fake_cid({"repost": p.uri}), "indexedAt": iso_millis(p.created)}})
            else:
                entry: dict[str, Any] = {"post": self.post_view(p)}
                if p.reply_parent:
                    parent, root = self.posts[p.reply_parent], self.posts[p.reply_root or p.reply_parent]
                    entry["reply"] = {"root": self._ref_view(root), "parent": self._ref_view(parent)}
                feed.append(entry)
        out: dict[str, Any] = {"feed": feed}
        if page:
            last = page[-1]
            out["cursor"] = base64.urlsafe_b64encode(f"{iso_millis(last.created)}|{last.uri}".encode()).decode()
        return Response.json(out)

    def _ref_view(self, post: BPost) -> dict[str, Any]:
        if post.deleted:
            return {"$type": NOT_FOUND, "uri": post.uri, "notFound": True}
        return {"$type": "app.bsky.feed.defs#postView", **self.post_view(post)}

    @route("/xrpc/app.bsky.feed.getPostThread")
    def post_thread(self, req: Request) -> Response:
        uri = req.query.get("uri", "")
        depth = max(0, min(int(req.query.get("depth") or 6), 1000))
        height = max(0, min(int(req.query.get("parentHeight") or 80), 1000))
        anchor = self.live(uri)
        if anchor is None:
            if self.anchor_tombstones and uri in self.posts:
                return Response.json({"thread": {"$type": NOT_FOUND, "uri": uri, "notFound": True}})
            return _xrpc_error(400, "NotFound", f"Post not found: {uri}")
        node = self._node(anchor, depth)
        current, parent_uri = node, anchor.reply_parent
        for _ in range(height):
            if not parent_uri:
                break
            parent = self.posts.get(parent_uri)
            if parent is None or parent.deleted:
                current["parent"] = {"$type": NOT_FOUND, "uri": parent_uri, "notFound": True}
                break
            current["parent"] = {"$type": THREAD_VIEW, "post": self.post_view(parent)}
            current, parent_uri = current["parent"], parent.reply_parent
        return Response.json({"thread": node})

    def _node(self, post: BPost, depth: int) -> dict[str, Any]:
        node: dict[str, Any] = {"$type": THREAD_VIEW, "post": self.post_view(post)}
        if depth > 0:
            replies = []
            for child in self.children(post.uri):
                if not child.deleted:
                    replies.append(self._node(child, depth - 1))
                elif any(not c.deleted for c in self.children(child.uri)):
                    replies.append({"$type": NOT_FOUND, "uri": child.uri, "notFound": True})
            node["replies"] = replies
        return node


def _issue(sandbox: BlueskySandbox, handle: str) -> Response:
    n = next(sandbox._seq)
    access, refresh = f"sbx-access-{n}-{handle}", f"sbx-refresh-{n}-{handle}"
    sandbox.tokens.add(access)
    sandbox.refresh_tokens.add(refresh)
    return Response.json({"accessJwt": access, "refreshJwt": refresh, "handle": handle, "active": True})


def _xrpc_error(status: int, name: str, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response.json({"error": name, "message": message}, status, headers)


def _profile_not_found() -> Response:
    return _xrpc_error(400, "InvalidRequest", "Profile not found")


class BlueskyContract(ContractAdapter):
    """The contract-suite adapter over BlueskySandbox."""

    platform = "bluesky"
    token = ("eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ.eyJzY29wZSI6ImNvbS5hdHByb3RvLmFjY2VzcyJ9."
             "c2FuZGJveC1zaWduYXR1cmUtN2YzYTljMmQ")
    sandbox: BlueskySandbox

    def __init__(self) -> None:
        super().__init__(BlueskySandbox())
        self.handles: dict[str, str] = {}

    def seed_account(self) -> SeededAccount:
        sb = self.sandbox
        school = sb.add_actor("lincolnhs.bsky.social", "Lincoln High School")
        parent = sb.add_actor("ptavolunteer.bsky.social", "PTA Volunteer")
        neighbor = sb.add_actor("neighbor.bsky.social", "Community Member")
        self.handles["lincolnhs.bsky.social"] = school
        start = sb.now() - timedelta(days=60)
        posts = [sb.post(school, f"Lincoln High update #{n + 1}: schedules, sports and clubs.", image=(n == 40), at=when)
                 for n, when in enumerate(spread(55, days=60, start=sb.now(), hour_cycle=5))]
        for i, uri in enumerate(posts[-3:]):
            base = sb.posts[uri].created
            first = sb.post(parent, f"Great news! ({i})", reply_to=uri, at=base + timedelta(hours=1))
            sb.post(neighbor, "When is the next meeting?", reply_to=uri, at=base + timedelta(hours=2))
            sb.post(school, "Thank you - see the calendar.", reply_to=first, at=base + timedelta(hours=3))
            sb.post(neighbor, "Agreed!", reply_to=first, at=base + timedelta(hours=4))
        news = sb.post(neighbor, "Congrats to the robotics team!", at=start + timedelta(days=20))
        sb.repost(school, news, at=start + timedelta(days=20, hours=2))
        return SeededAccount("lincolnhs.bsky.social", "https://bsky.app/profile/lincolnhs.bsky.social", self.token,
                             "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        sb = self.sandbox
        school = sb.add_actor("bulkelementary.bsky.social", "Bulk Elementary")
        fan = sb.add_actor("bulkfan.bsky.social", "Bulk Fan")
        self.handles["bulkelementary.bsky.social"] = school
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: sb.post(school, text, at=at),
                  lambda uri, text, at: sb.post(fan, text, reply_to=uri, at=at))
        return SeededAccount("bulkelementary.bsky.social", "@bulkelementary.bsky.social", self.token, "Bulk Elementary")

    def live_item_ids(self, account_id: str) -> set[str]:
        sb = self.sandbox
        did = self.handles.get(account_id, account_id)
        own = [p for p in sb.posts.values() if p.author == did and sb.live(p.uri)]
        # Replies outlive a deleted parent on Bluesky (their records stay; the thread shows the
        # parent as notFoundPost), so the walk goes through deleted posts without counting them.
        found: set[str] = set()
        visited: set[str] = set()
        stack = [p.uri for p in own]
        while stack:
            uri = stack.pop()
            if uri in visited:
                continue
            visited.add(uri)
            if not sb.posts[uri].deleted:
                found.add(uri)
            stack.extend(c.uri for c in sb.children(uri))
        return found

    def publish(self, account_id: str) -> str:
        return self.sandbox.post(self.handles.get(account_id, account_id), "A new announcement from the contract suite.")

    def edit(self, item_id: str) -> None:
        self.sandbox.rewrite(item_id, f"Edited text #{self.next_edit()}")

    def _reader(self) -> str:
        sb = self.sandbox
        did = fake_did("latereader.bsky.social")
        if did not in sb.actors:
            sb.add_actor("latereader.bsky.social", "Late Reader")
        return did

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        when = sb.now() - timedelta(days=days)
        uri = sb.post(self.handles.get(account_id, account_id), f"An announcement from {days:g} days ago.", at=when)
        sb.post(self._reader(), "An old question.", reply_to=uri, at=when + timedelta(hours=1))
        return uri

    def comment_on(self, item_id: str) -> str:
        return self.sandbox.post(self._reader(), "A new reply to an old post.", reply_to=item_id)

    def delete(self, item_id: str) -> None:
        self.sandbox.delete(item_id)
