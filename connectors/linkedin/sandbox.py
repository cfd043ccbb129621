"""A fake of LinkedIn's versioned REST API for organization pages (Community Management API).

Shapes follow shared/research/platform_apis.md §5: the posts finder (`q=author`) with
start/count paging and `paging.links`, single posts, socialActions comments and replies
(`urn:li:comment:(urn:li:activity:A,B)`), the Organizations vanity-name finder, the Images
API's expiring `downloadUrl`, Rest.li error bodies `{"status","serviceErrorCode","code",
"message"}`: 404 NOT_FOUND for deleted posts and comments, 401 EXPIRED_ACCESS_TOKEN /
REVOKED_ACCESS_TOKEN, 429 TOO_MANY_REQUESTS (APPLICATION DAY limit), 400 VERSION_MISSING and
426 NONEXISTENT_VERSION. Requests must carry `LinkedIn-Version` and
`X-Restli-Protocol-Version: 2.0.0`, as the real API demands.

One liberty: the throttle answer carries `Retry-After: 1` (LinkedIn documents no rate-limit
header), so the contract suite can wait it out; see connectors/linkedin/README.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import PlatformSandbox, Store, bearer, route, seed_bulk, spread
from archiver.sandbox.server import Request, Response

ACTIVE_VERSIONS = frozenset({"202511", "202512", "202601", "202602", "202603", "202604", "202605",
                             "202606", "202607", "202608", "202609", "202610", "202611"})


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass
class LiOrg:
    id: str
    vanity: str
    name: str


@dataclass
class LiPost:
    urn: str
    activity: str
    org: str
    commentary: str
    created: datetime
    modified: datetime
    image: str = ""  # urn:li:image:... or ""
    edited: bool = False
    deleted: bool = False


@dataclass
class LiComment:
    urn: str
    id: str
    post: str  # the post URN it belongs to
    activity: str
    actor: str
    text: str
    created: datetime
    modified: datetime
    parent: str | None = None  # parent comment URN for a reply
    deleted: bool = False


class LinkedInSandbox(PlatformSandbox):
    """Answers like api.linkedin.com/rest."""

    cdn_tag = b"sandbox-li"

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now=now)
        self.orgs: dict[str, LiOrg] = {}
        self.posts: Store[LiPost] = Store()
        self.comments: Store[LiComment] = Store()
        self.send_total = False  # posts finder: LinkedIn sometimes omits paging.total
        self.send_links = True  # and a client must cope when paging.links is missing too
        self.field_override: dict[str, object] = {}  # post field -> value, to fake a type change
        self.refused_sorts: set[str] = set()  # sortBy values the finder answers 400 to
        self._ids = itertools.count(7_045_020_441_609_936_001)

    # --- timeline mutators -----------------------------------------------------------------

    def add_org(self, org_id: str, vanity: str, name: str) -> None:
        self.orgs[org_id] = LiOrg(org_id, vanity, name)

    def publish(self, org_id: str, text: str, *, image: bool = False, at: datetime | None = None) -> str:
        when = at or self.now()
        share = next(self._ids)
        urn = f"urn:li:share:{share}"
        image_urn = f"urn:li:image:D4E10AQE{share}" if image else ""
        self.posts[urn] = LiPost(urn, str(next(self._ids)), org_id, text, when, when, image_urn)
        return urn

    def edit_post(self, urn: str, text: str) -> None:
        post = self.posts[urn]
        post.commentary, post.modified, post.edited = text, self.now(), True

    def touch_post(self, urn: str) -> None:
        """lastModifiedAt moves while the content stays the same."""
        self.posts[urn].modified = self.now()

    def comment(self, post_urn: str, text: str, *, actor: str = "urn:li:person:A8xe03Qt10",
                parent: str | None = None, at: datetime | None = None) -> str:
        post = self.posts[post_urn]
        cid = str(next(self._ids))
        urn = f"urn:li:comment:(urn:li:activity:{post.activity},{cid})"
        when = at or self.now()
        self.comments[urn] = LiComment(urn, cid, post_urn, post.activity, actor, text, when, when, parent)
        return urn

    def edit_comment(self, urn: str, text: str) -> None:
        c = self.comments[urn]
        c.text, c.modified = text, self.now()

    def delete_comment(self, urn: str) -> None:
        self.comments.delete(urn, self.comments.live(lambda c: c.parent == urn))

    def delete_post(self, urn: str) -> None:
        self.posts.delete(urn, self.comments.live(lambda c: c.post == urn))

    def live_ids(self, org_id: str) -> set[str]:
        posts = {p.urn for p in self.posts.live(lambda p: p.org == org_id)}
        return posts | {c.urn for c in self.comments.live(lambda c: c.post in posts)}

    # --- HTTP ------------------------------------------------------------------------------

    def gate(self, req: Request) -> Response | None:
        state = self.token_state(bearer(req))
        if state == "expired":
            return _error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602)
        if state == "revoked":
            return _error(401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user",
                          65601)
        if state != "ok":
            return _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        version = req.header("linkedin-version")
        if not version:
            return _error(400, "VERSION_MISSING", "A version must be present. Please specify a version by adding "
                          "the LinkedIn-Version header.")
        if version not in ACTIVE_VERSIONS:
            return _error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if req.header("x-restli-protocol-version") != "2.0.0":
            return _error(400, "ILLEGAL_ARGUMENT", "Syntax exception in path variables", 100)
        if self.take("throttle_next"):
            return _error(429, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION DAY limit for calls to "
                          "this resource is reached.", 101, headers=[("Retry-After", "1")])
        req.reply_headers += [("x-li-responseorigin", "RGW"), ("x-restli-protocol-version", "2.0.0")]
        return None

    def dispatch(self, req: Request, path: str | None = None) -> Response:
        return super().dispatch(req, "/".join(unquote(p) for p in req.path.split("/")))

    def no_route(self, req: Request) -> Response:
        return _error(404, "NOT_FOUND", f"No virtual resource found for {req.path}")

    @route("/rest/posts/{urn}")
    def post(self, req: Request, urn: str) -> Response:
        post = self.posts.get(urn)
        if post is None or post.deleted:
            return _error(404, "NOT_FOUND", f"Post {urn} does not exist")
        return Response.json(self._post_json(post))

    @route("/rest/organizations")
    def organizations(self, req: Request) -> Response:
        if req.query.get("q") != "vanityName":
            return self.no_route(req)
        wanted = req.query.get("vanityName", "").lower()
        rows = [{"vanityName": o.vanity, "localizedName": o.name, "id": int(o.id),
                 "$URN": f"urn:li:organization:{o.id}"} for o in self.orgs.values() if o.vanity == wanted]
        return Response.json({"elements": rows, "paging": {"count": 10, "start": 0, "links": []}})

    def _paging(self, req: Request, total: int, start: int, count: int, with_total: bool) -> dict[str, Any]:
        links = []
        query = {k: v for k, v in req.query.items() if k not in ("start", "count")}
        if start > 0:
            prev = {**query, "start": str(max(start - count, 0)), "count": str(count)}
            links.append({"type": "application/json", "rel": "prev", "href": f"{req.path}?{urlencode(prev)}"})
        if start + count < total:
            nxt = {**query, "start": str(start + count), "count": str(count)}
            links.append({"type": "application/json", "rel": "next", "href": f"{req.path}?{urlencode(nxt)}"})
        paging: dict = {"start": start, "count": count}
        if self.send_links:
            paging["links"] = links
        if with_total:
            paging["total"] = total
        return paging

    def _window(self, req: Request) -> tuple[int, int]:
        return int(req.query.get("start") or 0), min(int(req.query.get("count") or 10), 100)

    @route("/rest/posts")
    def finder(self, req: Request) -> Response:
        if req.query.get("q") != "author":
            return _error(400, "ILLEGAL_ARGUMENT", "Invalid finder")
        author = req.query.get("author", "")
        org = author.removeprefix("urn:li:organization:")
        if not author.startswith("urn:li:organization:") or org not in self.orgs:
            return _error(403, "ACCESS_DENIED",
                          "Not enough permissions to access: partnerApiPostsExternal.FINDER-author.20260501", 100)
        if req.query.get("sortBy") in self.refused_sorts:
            return _error(400, "ILLEGAL_ARGUMENT", f"Invalid value {req.query['sortBy']} for parameter sortBy", 100)
        key = (lambda p: p.modified) if req.query.get("sortBy") == "LAST_MODIFIED" else (lambda p: p.created)
        rows = sorted((p for p in self.posts.values() if p.org == org and not p.deleted), key=key, reverse=True)
        start, count = self._window(req)
        body = {"paging": self._paging(req, len(rows), start, count, self.send_total),
                "elements": [self._post_json(p) for p in rows[start:start + count]]}
        return Response.json(body)

    def _target_comments(self, target: str) -> list[LiComment] | None:
        if target.startswith("urn:li:comment:"):
            parent = self.comments.get(target)
            if parent is None or parent.deleted:
                return None
            return [c for c in self.comments.values() if c.parent == target and not c.deleted]
        post = self.posts.get(target) or next(
            (p for p in self.posts.values() if f"urn:li:activity:{p.activity}" == target), None)
        if post is None or post.deleted:
            return None
        return [c for c in self.comments.values() if c.post == post.urn and c.parent is None and not c.deleted]

    @route("/rest/socialActions/{target}/comments")
    def comments_of(self, req: Request, target: str) -> Response:
        rows = self._target_comments(target)
        if rows is None:
            return _error(404, "NOT_FOUND", f"Entity {target} does not exist")
        rows.sort(key=lambda c: (c.created, c.id))
        start, count = self._window(req)
        body = {"paging": self._paging(req, len(rows), start, count, True),
                "elements": [self._comment_json(c) for c in rows[start:start + count]]}
        return Response.json(body)

    @route("/rest/socialActions/{target}/comments/{comment_id}")
    def one_comment(self, req: Request, target: str, comment_id: str) -> Response:
        for c in self.comments.values():
            if c.id == comment_id and not c.deleted and target in (f"urn:li:activity:{c.activity}", c.post, c.parent):
                return Response.json(self._comment_json(c))
        return _error(404, "NOT_FOUND", f"Comment {comment_id} on {target} does not exist")

    @route("/rest/socialMetadata")
    def social_metadata(self, req: Request) -> Response:
        """BATCH_GET `ids=List(urn,...)`: each post's comment and reaction totals; an unknown or
        deleted post is in `errors` (status 404), not in `results`."""
        raw = req.query.get("ids", "")
        if not (raw.startswith("List(") and raw.endswith(")")):
            return _error(400, "ILLEGAL_ARGUMENT", "ids must be a List(...) of post URNs", 100)
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for urn in (unquote(u) for u in raw[5:-1].split(",") if u):
            post = self.posts.get(urn)
            if post is None or post.deleted:
                errors[urn] = {"status": 404, "code": "NOT_FOUND", "message": f"Entity {urn} does not exist"}
                continue
            live = [c for c in self.comments.values() if c.post == urn and not c.deleted]
            results[urn] = {"entity": urn, "commentsState": "OPEN", "reactionSummaries": {},
                            "commentSummary": {"count": len(live),
                                               "topLevelCount": sum(1 for c in live if c.parent is None)}}
        return Response.json({"results": results, "statuses": {u: 200 for u in results}, "errors": errors})

    @route("/rest/images/{urn}")
    def image(self, req: Request, urn: str) -> Response:
        post = next((p for p in self.posts.values() if p.image == urn and not p.deleted), None)
        if post is None:
            return _error(404, "NOT_FOUND", f"Image {urn} does not exist")
        expires = _ms(self.now() + timedelta(days=2))
        name = urn.rsplit(":", 1)[-1]
        url = (f"{self.base_url}/cdn/dms/image/{name}/feedshare-shrink_800/0/{_ms(post.created) // 1000}"
               f"?e={expires // 1000}&v=beta&t=sandbox{next(self._ids)}")
        return Response.json({"owner": f"urn:li:organization:{post.org}", "id": urn, "status": "AVAILABLE",
                              "downloadUrlExpiresAt": expires, "downloadUrl": url})

    def _post_json(self, p: LiPost) -> dict:
        data: dict = {
            "isReshareDisabledByAuthor": False,
            "createdAt": _ms(p.created),
            "lifecycleState": "PUBLISHED",
            "lastModifiedAt": _ms(p.modified),
            "visibility": "PUBLIC",
            "publishedAt": _ms(p.created),
            "author": f"urn:li:organization:{p.org}",
            "id": p.urn,
            "distribution": {"feedDistribution": "MAIN_FEED", "thirdPartyDistributionChannels": []},
            "commentary": p.commentary,
            "lifecycleStateInfo": {"isEditedByAuthor": p.edited},
        }
        if p.image:
            data["content"] = {"media": {"altText": "Students at the science fair", "id": p.image}}
        data.update(self.field_override)
        return data

    def _comment_json(self, c: LiComment) -> dict:
        replies = [o for o in self.comments.values() if o.parent == c.urn and not o.deleted]
        data: dict = {
            "$URN": c.urn,
            "commentUrn": c.urn,
            "id": c.id,
            "actor": c.actor,
            "agent": c.actor,
            "object": f"urn:li:activity:{c.activity}",
            "message": {"text": c.text, "attributes": []},
            "created": {"actor": c.actor, "time": _ms(c.created)},
            "lastModified": {"actor": c.actor, "time": _ms(c.modified)},
            "likesSummary": {"totalLikes": 0, "likedByCurrentUser": False, "selectedLikes": []},
            "commentsSummary": {"totalFirstLevelComments": len(replies),
                                "aggregatedTotalComments": len(replies), "selectedComments": []},
        }
        if c.parent:
            data["parentComment"] = c.parent
        return data


def _error(status: int, code: str, message: str, service_code: int | None = None,
           headers: list[tuple[str, str]] | None = None) -> Response:
    body: dict = {"status": status, "code": code, "message": message}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return Response.json(body, status, headers)


# --- the contract-suite adapter ----------------------------------------------------------------

LINCOLN, BULK = "2414183", "2414199"


class LinkedInContract(ContractAdapter):
    """Drives LinkedInSandbox through the ContractSandbox verbs."""

    platform = "linkedin"
    token = "AQVli-contract-token-3c9d81"
    sandbox: LinkedInSandbox

    def __init__(self) -> None:
        super().__init__(LinkedInSandbox())

    def _org(self, account_id: str) -> str:
        if account_id in self.sandbox.orgs:
            return account_id
        return next(o.id for o in self.sandbox.orgs.values() if o.vanity == account_id)

    def seed_account(self) -> SeededAccount:
        """55 posts (3 pages at 25), one with an image, comments and replies on the newest three."""
        sb = self.sandbox
        sb.add_org(LINCOLN, "lincoln-high-school", "Lincoln High School")
        for n, when in enumerate(spread(55, days=60, start=sb.now(), hour_cycle=7)):
            sb.publish(LINCOLN, f"Lincoln High update #{n + 1}: schedules, sports and clubs.", image=(n == 54), at=when)
        recent = sorted((p for p in sb.posts.values() if p.org == LINCOLN), key=lambda p: p.created)[-3:]
        for i, post in enumerate(recent):
            first = sb.comment(post.urn, f"Congratulations to the team! ({i})", at=post.created + timedelta(hours=1))
            sb.comment(post.urn, "Will there be a livestream?", actor="urn:li:person:B7yf14Ru21",
                       at=post.created + timedelta(hours=2))
            sb.comment(post.urn, "Thank you - yes, on the district site.", actor=f"urn:li:organization:{LINCOLN}",
                       parent=first, at=post.created + timedelta(hours=3))
        return SeededAccount(LINCOLN, f"urn:li:organization:{LINCOLN}", self.token, "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        sb = self.sandbox
        sb.add_org(BULK, "bulk-elementary", "Bulk Elementary")
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: sb.publish(BULK, text, at=at),
                  lambda post, text, at: sb.comment(post, text, at=at))
        return SeededAccount(BULK, f"https://www.linkedin.com/company/{BULK}/", self.token, "Bulk Elementary")

    def live_item_ids(self, account_id: str) -> set[str]:
        return self.sandbox.live_ids(self._org(account_id))

    def publish(self, account_id: str) -> str:
        return self.sandbox.publish(self._org(account_id), "A new announcement from the contract suite.")

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        when = sb.now() - timedelta(days=days)
        post = sb.publish(self._org(account_id), f"An announcement from {days:g} days ago.", at=when)
        sb.comment(post, "An old question.", at=when + timedelta(hours=1))
        return post

    def comment_on(self, item_id: str) -> str:
        return self.sandbox.comment(item_id, "A new comment on an old post.", actor="urn:li:person:LateReader77")

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
