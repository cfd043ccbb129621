"""A Graph-API-shaped fake of Facebook Pages, faithful where the archiver depends on it.

Shapes follow shared/research/platform_apis.md §1: cursor paging whose `next` URL repeats the
access token (as the real API does), comments with `filter=stream` flattening replies,
HTTP 400 envelopes keyed by `code` (100/33 for deleted objects with a WWW-Authenticate header,
190/463 for an expired token, 80001 for Page throttling with X-Business-Use-Case-Usage).
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from archiver.sandbox.contract import SeededAccount
from archiver.sandbox.server import Request, Response

GRAPH_TIME = "%Y-%m-%dT%H:%M:%S+0000"


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime(GRAPH_TIME)


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


@dataclass
class Ledger:
    """Ground truth of what the timeline did, to check the archive against."""

    posts: set[str] = field(default_factory=set)
    comments: set[str] = field(default_factory=set)
    replies: set[str] = field(default_factory=set)
    edits: int = 0
    deletions: set[str] = field(default_factory=set)


class GraphSandbox:
    """State plus an HTTP app (`__call__`) that answers like graph.facebook.com."""

    def __init__(self, *, tokens: set[str], version: str = "v21.0",
                 now: Callable[[], datetime] | None = None) -> None:
        self.tokens = set(tokens)
        self.expired: set[str] = set()
        self.version = version
        self.now = now or (lambda: datetime.now(UTC))
        self.base_url = ""  # set by whoever serves the app, for paging and media URLs
        self.pages: dict[str, str] = {}
        self.posts: dict[str, FbPost] = {}
        self.comments: dict[str, FbComment] = {}
        self.throttle_next = 0
        self.malformed_next = 0
        self.fail_next_5xx = 0
        self.fail_later_pages = False  # every feed page after the first answers HTTP 500
        self.ledger = Ledger()
        self._ids = itertools.count(3_000_001)

    # --- timeline mutators -----------------------------------------------------------------

    def add_page(self, page_id: str, name: str) -> None:
        self.pages[page_id] = name

    def publish(self, page_id: str, message: str, *, picture: bool = False,
                at: datetime | None = None) -> str:
        when = at or self.now()
        post_id = f"{page_id}_{next(self._ids)}"
        pic = f"/cdn/{post_id}.jpg" if picture else ""
        self.posts[post_id] = FbPost(post_id, page_id, message, when, when, pic)
        self.ledger.posts.add(post_id)
        return post_id

    def edit_post(self, post_id: str, message: str) -> None:
        post = self.posts[post_id]
        post.message, post.updated = message, self.now()
        self.ledger.edits += 1

    def touch_post(self, post_id: str) -> None:
        """updated_time moves (as with a new comment) while the content stays the same."""
        self.posts[post_id].updated = self.now()

    def comment(self, post_id: str, message: str, *, author: tuple[str, str] = ("Parent Volunteer", "900001"),
                parent: str | None = None, at: datetime | None = None) -> str:
        comment_id = f"{post_id.split('_')[1]}_{next(self._ids)}"
        self.comments[comment_id] = FbComment(comment_id, post_id, message, at or self.now(), author, parent)
        (self.ledger.replies if parent else self.ledger.comments).add(comment_id)
        self.touch_post(post_id)
        return comment_id

    def edit_comment(self, comment_id: str, message: str) -> None:
        self.comments[comment_id].message = message
        self.ledger.edits += 1

    def hide_comment(self, comment_id: str) -> None:
        self.comments[comment_id].hidden = True
        self.ledger.edits += 1

    def delete_comment(self, comment_id: str) -> None:
        self.comments[comment_id].deleted = True
        self.ledger.deletions.add(comment_id)

    def delete_post(self, post_id: str) -> None:
        self.posts[post_id].deleted = True
        self.ledger.deletions.add(post_id)
        for c in self.comments.values():
            if c.post_id == post_id and not c.deleted:
                c.deleted = True
                self.ledger.deletions.add(c.id)

    def expire_token(self, token: str) -> None:
        self.expired.add(token)

    # --- HTTP ------------------------------------------------------------------------------

    def __call__(self, req: Request) -> Response:
        if req.path.startswith("/cdn/"):
            return self._media(req)
        parts = [p for p in req.path.split("/") if p]
        if not parts or parts[0] != self.version:
            return graph_error(400, "Unknown path components", "OAuthException", 2500)
        token = req.query.get("access_token") or req.header("authorization").removeprefix("Bearer ").strip()
        if not token:
            return graph_error(400, "An active access token must be used to query information about the current user.", "OAuthException", 2500)
        if token in self.expired:
            return graph_error(400, "Error validating access token: Session has expired on Monday, 05-Jan-26 10:00:00 PST.",
                          "OAuthException", 190, 463)
        if token not in self.tokens:
            return graph_error(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        if self.fail_later_pages and req.query.get("after") and req.path.endswith("/feed"):
            return graph_error(500, "An unknown error has occurred.", "OAuthException", 1)
        if self.fail_next_5xx > 0:
            self.fail_next_5xx -= 1
            return graph_error(500, "An unknown error has occurred.", "OAuthException", 1)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            usage = '{"%s":[{"type":"pages","call_count":100,"total_cputime":40,"total_time":60,"estimated_time_to_regain_access":0}]}'
            page = parts[1].split("_")[0] if len(parts) > 1 else "0"
            return graph_error(
                400,
                "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                "OAuthException", 80001, headers=[("X-Business-Use-Case-Usage", usage % page)],
            )
        if self.malformed_next > 0:
            self.malformed_next -= 1
            return Response(200, b'{"data": [{"id": "broken', [("Content-Type", "application/json; charset=UTF-8")])
        headers = [("facebook-api-version", self.version), ("x-app-usage", '{"call_count":1,"total_cputime":1,"total_time":1}')]
        if len(parts) == 3 and parts[2] in ("feed", "published_posts", "posts"):
            return self._feed(req, parts[1], token, headers)
        if len(parts) == 3 and parts[2] == "comments":
            return self._comments(req, parts[1], token, headers)
        if len(parts) == 2:
            return self._object(req, parts[1], headers)
        return graph_error(400, "Unknown path components", "OAuthException", 2500)

    def _page_of(self, req: Request, rows: list[dict], token: str) -> dict:
        limit = min(int(req.query.get("limit") or 25), 100)
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

    def _feed(self, req: Request, page_id: str, token: str, headers: list[tuple[str, str]]) -> Response:
        if page_id not in self.pages:
            return graph_not_found(page_id)
        posts = sorted((p for p in self.posts.values() if p.page_id == page_id and not p.deleted),
                       key=lambda p: p.created, reverse=True)
        return Response.json(self._page_of(req, [self._post_json(p) for p in posts], token), headers=headers)

    def _comments(self, req: Request, object_id: str, token: str, headers: list[tuple[str, str]]) -> Response:
        post = self.posts.get(object_id)
        if post is None or post.deleted:
            return graph_not_found(object_id)
        stream = req.query.get("filter") == "stream"
        rows = sorted((c for c in self.comments.values() if c.post_id == object_id and not c.deleted
                       and (stream or c.parent is None)), key=lambda c: (c.created, c.id))
        page = self._page_of(req, [self._comment_json(c) for c in rows], token)
        page["summary"] = {"order": "chronological", "total_count": len(rows), "can_comment": True}
        return Response.json(page, headers=headers)

    def _object(self, req: Request, object_id: str, headers: list[tuple[str, str]]) -> Response:
        if object_id in self.pages:
            return Response.json({"id": object_id, "name": self.pages[object_id]}, headers=headers)
        post = self.posts.get(object_id)
        if post is not None and not post.deleted:
            return Response.json(self._post_json(post), headers=headers)
        comment = self.comments.get(object_id)
        if comment is not None and not comment.deleted:
            return Response.json(self._comment_json(comment), headers=headers)
        return graph_not_found(object_id)

    def _media(self, req: Request) -> Response:
        name = req.path.rsplit("/", 1)[-1]
        body = b"\xff\xd8\xff\xe0JFIF-sandbox-image-" + name.encode() + b"\xff\xd9"
        return Response(200, body, [("Content-Type", "image/jpeg")])

    def _signed(self, path: str) -> str:
        expires = format(int(self.now().timestamp()) + 3 * 86400, "X")
        return f"{self.base_url}{path}?_nc_cat=101&oh=00_sandbox{next(self._ids)}&oe={expires}"

    def _post_json(self, p: FbPost) -> dict:
        page_name = self.pages.get(p.page_id, "")
        data: dict = {
            "id": p.id,
            "created_time": _ts(p.created),
            "updated_time": _ts(p.updated),
            "message": p.message,
            "permalink_url": f"https://www.facebook.com/{p.page_id}/posts/{p.id.split('_')[1]}/",
            "status_type": "added_photos" if p.picture else "mobile_status_update",
            "is_hidden": p.hidden,
            "is_published": True,
            "from": {"name": page_name, "id": p.page_id},
        }
        if p.picture:
            src = self._signed(p.picture)
            data["full_picture"] = src
            photo_id = p.id.split("_")[1] + "9"
            data["attachments"] = {"data": [{
                "media": {"image": {"height": 720, "src": src, "width": 720}},
                "media_type": "photo",
                "target": {"id": photo_id, "url": f"https://www.facebook.com/photo.php?fbid={photo_id}"},
                "type": "photo",
                "url": f"https://www.facebook.com/photo.php?fbid={photo_id}",
            }]}
        return data

    def _comment_json(self, c: FbComment) -> dict:
        post_num = c.post_id.split("_")[1]
        page_id = c.post_id.split("_")[0]
        data: dict = {
            "id": c.id,
            "created_time": _ts(c.created),
            "from": {"name": c.author[0], "id": c.author[1]},
            "message": c.message,
            "comment_count": sum(1 for o in self.comments.values() if o.parent == c.id and not o.deleted),
            "like_count": 0,
            "is_hidden": c.hidden,
            "permalink_url": f"https://www.facebook.com/{page_id}/posts/{post_num}/?comment_id={c.id.split('_')[1]}",
        }
        if c.parent:
            data["parent"] = {"id": c.parent}
        return data


def graph_error(status: int, message: str, type_: str, code: int, subcode: int | None = None,
                headers: list[tuple[str, str]] | None = None) -> Response:
    """Graph API's error envelope (Facebook and Instagram share it), keyed by `code`."""
    err: dict = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = "Asandbox" + str(code)
    return Response.json({"error": err}, status, headers)


def graph_not_found(object_id: str) -> Response:
    """The 100/33 answer Graph API gives for a deleted (or invisible) object."""
    message = (f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
               "due to missing permissions, or does not support this operation. Please read the Graph API "
               "documentation at https://developers.facebook.com/docs/graph-api")
    return graph_error(400, message, "GraphMethodException", 100, 33,
                  headers=[("WWW-Authenticate", f'OAuth "Facebook Platform" "invalid_request" "{message}"')])


# --- the scripted demo timeline --------------------------------------------------------------

LINCOLN, DISTRICT = "1000001", "1000002"


@dataclass
class FacebookTimeline:
    """Three cycles: an initial archive, then edits/comments/a throttle, then deletions."""

    sandbox: GraphSandbox
    marks: dict[str, str] = field(default_factory=dict)

    def setup(self) -> None:
        sb = self.sandbox
        sb.add_page(LINCOLN, "Lincoln High School")
        sb.add_page(DISTRICT, "Riverside School District")
        start = sb.now() - timedelta(days=60)
        for n in range(55):
            sb.publish(LINCOLN, f"Lincoln High update #{n + 1}: schedules, sports and clubs.",
                       picture=(n == 54), at=start + timedelta(days=n, hours=n % 7))
        recent = sorted((p for p in sb.posts.values() if p.page_id == LINCOLN), key=lambda p: p.created)[-3:]
        for i, post in enumerate(recent):
            first = sb.comment(post.id, f"Great news! ({i})", at=post.created + timedelta(hours=1))
            sb.comment(post.id, "When is the next meeting?", author=("Community Member", "900002"),
                       at=post.created + timedelta(hours=2))
            sb.comment(post.id, "Thank you for asking - see the calendar.", author=("Lincoln High School", LINCOLN),
                       parent=first, at=post.created + timedelta(hours=3))
            self.marks[f"recent{i}"] = post.id
            self.marks[f"recent{i}_first"] = first
        for n in range(4):
            pid = sb.publish(DISTRICT, f"Board meeting notice {n + 1}", at=start + timedelta(days=10 * n))
            self.marks[f"district{n}_comment"] = sb.comment(pid, "Will it be streamed?", at=start + timedelta(days=10 * n, hours=1))

    def before_cycle(self, cycle: int) -> int:
        """Apply the changes scripted before `cycle`; returns how many were content edits."""
        sb, m = self.sandbox, self.marks
        edits_before = sb.ledger.edits
        if cycle == 2:
            m["new_post"] = sb.publish(LINCOLN, "Snow day: all Lincoln schools closed tomorrow.", picture=True)
            sb.edit_post(m["recent0"], "Lincoln High update: CORRECTED schedule for finals week.")
            sb.touch_post(m["recent1"])
            c = sb.comment(m["recent2"], "Is the gym open during the snow day?", author=("Student Parent", "900003"))
            sb.comment(m["recent2"], "The gym is closed as well.", author=("Lincoln High School", LINCOLN), parent=c)
            sb.delete_comment(self._second_comment(m["recent0"]))
            sb.throttle_next = 1
        elif cycle == 3:
            sb.delete_post(m["recent1"])
            sb.edit_comment(m["district0_comment"], "Will it be streamed? (edited: and recorded?)")
            sb.hide_comment(m["recent2_first"])
            sb.publish(DISTRICT, "Reminder: enrollment opens Monday.")
        return sb.ledger.edits - edits_before

    def _second_comment(self, post_id: str) -> str:
        tops = sorted((c for c in self.sandbox.comments.values() if c.post_id == post_id and c.parent is None),
                      key=lambda c: c.created)
        return tops[1].id


class FacebookContract:
    """The contract-suite adapter over GraphSandbox."""

    platform = "facebook"

    def __init__(self) -> None:
        self.token = "EAAB-contract-token-7f3a9c"
        self.sandbox = GraphSandbox(tokens={self.token})
        self.app = self.sandbox
        self.timeline: FacebookTimeline | None = None
        self._edits = 0

    def bind(self, base_url: str) -> None:
        self.sandbox.base_url = base_url

    def seed_account(self) -> SeededAccount:
        if self.timeline is None:
            self.timeline = FacebookTimeline(self.sandbox)
            self.timeline.setup()
        return SeededAccount(LINCOLN, f"https://www.facebook.com/{LINCOLN}", self.token, "Lincoln High School")

    def demo_accounts(self) -> list[SeededAccount]:
        """The demo's two Pages: a school and the district office."""
        first = self.seed_account()
        return [first, SeededAccount(DISTRICT, DISTRICT, self.token, "Riverside School District")]

    def before_cycle(self, cycle: int) -> int:
        assert self.timeline is not None
        return self.timeline.before_cycle(cycle)

    def seed_bulk(self, count: int) -> SeededAccount:
        """Posts with two comments each: a third of the items are posts."""
        sb, page = self.sandbox, "1000099"
        sb.add_page(page, "Bulk Elementary")
        start = sb.now() - timedelta(days=365)
        made = 0
        while made < count:
            post = sb.publish(page, f"Bulk post {made}", at=start + timedelta(hours=made))
            made += 1
            for n in range(2):
                if made < count:
                    sb.comment(post, f"Bulk comment {n}", at=start + timedelta(hours=made, minutes=n + 1))
                    made += 1
        return SeededAccount(page, page, self.token, "Bulk Elementary")

    def live_item_ids(self, account_id: str) -> set[str]:
        sb = self.sandbox
        posts = {p.id for p in sb.posts.values() if p.page_id == account_id and not p.deleted}
        comments = {c.id for c in sb.comments.values() if c.post_id in posts and not c.deleted}
        return posts | comments

    def publish(self, account_id: str) -> str:
        return self.sandbox.publish(account_id, "A new announcement from the contract suite.")

    def edit(self, item_id: str) -> None:
        self._edits += 1
        if item_id in self.sandbox.posts:
            self.sandbox.edit_post(item_id, f"Edited text #{self._edits}")
        else:
            self.sandbox.edit_comment(item_id, f"Edited comment #{self._edits}")

    def delete(self, item_id: str) -> None:
        if item_id in self.sandbox.posts:
            self.sandbox.delete_post(item_id)
        else:
            self.sandbox.delete_comment(item_id)

    def throttle_next(self, count: int) -> None:
        self.sandbox.throttle_next = count

    def expire_token(self, token: str) -> None:
        self.sandbox.expire_token(token)
