"""A WordPress site fake: the wp/v2 REST API plus its RSS 2.0 and Atom feeds and web pages.

Shapes follow shared/research/platform_apis.md §9-§10: posts and comments collections with
X-WP-Total / X-WP-TotalPages / Link paging, 400 `rest_post_invalid_page_number` past the end,
404 `rest_post_invalid_id` / `rest_comment_invalid_id` for deleted objects, 401
`rest_forbidden` / `rest_cannot_read` for trashed posts and held comments, `modified_gmt` on
edits, a JWT plugin's 403 `jwt_auth_invalid_token` for a bad bearer token, a host-level 429
with Retry-After, `/feed/` (latest N, `?paged=`), `/feed/atom/`, ETag / 304, `/?p=ID`
redirects and 404 pages for deleted entries.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import PlatformSandbox, bearer, broken_json, route, seed_bulk
from archiver.sandbox.server import Request, Response

SITE = "lincoln.k12.example"
JSON = "application/json; charset=UTF-8"


def _wp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class WPost:
    id: int
    title: str
    content: str
    date: datetime
    modified: datetime
    slug: str
    status: str = "publish"  # publish | trash | draft | private
    featured_media: int = 0
    sticky: bool = False
    deleted: bool = False  # permanently deleted (emptied from the trash)


@dataclass
class WComment:
    id: int
    post: int
    content: str
    date: datetime
    author_name: str
    parent: int = 0
    status: str = "approved"  # approved | hold | spam | trash
    deleted: bool = False


class WordPressSandbox(PlatformSandbox):
    """Answers like a WordPress 6.x site."""

    cdn_prefix = "/wp-content/uploads/"
    cdn_tag = b"wordpress-sandbox"

    def __init__(self, *, name: str = "Lincoln High School", now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now=now)
        self.name = name
        self.posts: dict[int, WPost] = {}
        self.comments: dict[int, WComment] = {}
        self.media: dict[int, str] = {}
        self.app_passwords: set[str] = set()  # "user:application password" (HTTP Basic)
        self.posts_per_rss = 10
        self.feed_complete = False  # RFC 5005 <fh:complete/> in the feeds
        self.feed_paged = False  # RFC 5005 rel="next" links between ?paged= pages
        self.overrides: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._ids = itertools.count(101)

    # --- content mutators ------------------------------------------------------------------

    def publish(self, title: str, body: str, *, image: bool = False, at: datetime | None = None) -> int:
        when = at or self.now()
        post_id = next(self._ids)
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or str(post_id)
        media_id = 0
        if image:
            media_id = next(self._ids)
            self.media[media_id] = f"/wp-content/uploads/{when:%Y/%m}/science-fair-{media_id}.jpg"
            body += f'\n<figure class="wp-block-image"><img src="{self.base_url}{self.media[media_id]}" alt="" /></figure>'
        self.posts[post_id] = WPost(post_id, title, f"<p>{body}</p>\n", when, when, f"{slug}-{post_id}",
                                    featured_media=media_id)
        return post_id

    def comment(self, post_id: int, text: str, *, author: str = "PTA Volunteer", parent: int = 0,
                at: datetime | None = None) -> int:
        comment_id = next(self._ids)
        self.comments[comment_id] = WComment(comment_id, post_id, f"<p>{escape(text)}</p>\n", at or self.now(),
                                             author, parent)
        return comment_id

    def edit_post(self, post_id: int, body: str) -> None:
        post = self.posts[post_id]
        post.content, post.modified = f"<p>{body}</p>\n", self.now()

    def edit_comment(self, comment_id: int, text: str) -> None:
        self.comments[comment_id].content = f"<p>{escape(text)}</p>\n"

    def trash(self, post_id: int) -> None:
        self.posts[post_id].status = "trash"

    def erase(self, post_id: int) -> None:
        """Delete permanently: the post and its comments are gone from the database."""
        self.posts[post_id].deleted = True
        for c in self.comments.values():
            if c.post == post_id:
                c.deleted = True

    def public_posts(self) -> list[WPost]:
        return sorted((p for p in self.posts.values() if p.status == "publish" and not p.deleted),
                      key=lambda p: (p.date, p.id), reverse=True)

    def public_comment(self, c: WComment) -> bool:
        post = self.posts.get(c.post)
        return (not c.deleted and c.status == "approved" and post is not None and not post.deleted
                and post.status == "publish")

    # --- JSON shapes -----------------------------------------------------------------------

    def link(self, post: WPost) -> str:
        return f"{self.base_url}/{post.date:%Y/%m}/{post.slug}/"

    def post_json(self, p: WPost, embed: bool) -> dict[str, Any]:
        api = f"{self.base_url}/wp-json/wp/v2"
        excerpt = re.sub(r"<[^>]+>", "", p.content).strip()[:55]
        data: dict[str, Any] = {
            "id": p.id, "date": _wp(p.date), "date_gmt": _wp(p.date),
            "guid": {"rendered": f"{self.base_url}/?p={p.id}"},
            "modified": _wp(p.modified), "modified_gmt": _wp(p.modified),
            "slug": p.slug, "status": p.status, "type": "post", "link": self.link(p),
            "title": {"rendered": escape(p.title)},
            "content": {"rendered": p.content, "protected": False},
            "excerpt": {"rendered": f"<p>{excerpt} [&hellip;]</p>\n", "protected": False},
            "author": 1, "featured_media": p.featured_media, "comment_status": "open", "ping_status": "open",
            "sticky": p.sticky, "template": "", "format": "standard", "meta": {"footnotes": ""},
            "categories": [1], "tags": [], "class_list": [f"post-{p.id}", "post", "type-post", "status-publish"],
            "_links": {
                "self": [{"href": f"{api}/posts/{p.id}", "targetHints": {"allow": ["GET"]}}],
                "collection": [{"href": f"{api}/posts"}],
                "replies": [{"embeddable": True, "href": f"{api}/comments?post={p.id}"}],
                "version-history": [{"count": 1, "href": f"{api}/posts/{p.id}/revisions"}],
                "wp:attachment": [{"href": f"{api}/media?parent={p.id}"}],
            },
        }
        if embed and p.featured_media:
            path = self.media[p.featured_media]
            data["_embedded"] = {"wp:featuredmedia": [{
                "id": p.featured_media, "date": _wp(p.date), "slug": f"science-fair-{p.featured_media}",
                "type": "attachment", "link": f"{self.base_url}/science-fair-{p.featured_media}/",
                "title": {"rendered": "science-fair"}, "author": 1, "caption": {"rendered": ""},
                "alt_text": "Students at the science fair", "media_type": "image", "mime_type": "image/jpeg",
                "media_details": {"width": 1200, "height": 800, "file": path.removeprefix("/wp-content/uploads/"),
                                  "sizes": {}},
                "source_url": f"{self.base_url}{path}",
            }]}
        override = self.overrides.get(p.id)
        return override(data) if override else data

    def comment_json(self, c: WComment) -> dict[str, Any]:
        api = f"{self.base_url}/wp-json/wp/v2"
        avatar = hashlib.md5(c.author_name.encode()).hexdigest()  # noqa: S324 - gravatar's own scheme
        return {
            "id": c.id, "post": c.post, "parent": c.parent, "author": 0, "author_name": c.author_name,
            "author_url": "", "date": _wp(c.date), "date_gmt": _wp(c.date), "content": {"rendered": c.content},
            "link": f"{self.link(self.posts[c.post])}#comment-{c.id}", "status": c.status, "type": "comment",
            "author_avatar_urls": {s: f"https://secure.gravatar.com/avatar/{avatar}?s={s}&d=mm&r=g" for s in ("24", "48", "96")},
            "meta": [],
            "_links": {"self": [{"href": f"{api}/comments/{c.id}"}],
                       "up": [{"embeddable": True, "post_type": "post", "href": f"{api}/posts/{c.post}"}]},
        }

    # --- HTTP ------------------------------------------------------------------------------

    def gate(self, req: Request) -> Response | None:
        if self.take("throttle_next"):  # a host-level limit: HTML, whatever was asked for
            return Response(429, b"<html><body><h1>429 Too Many Requests</h1></body></html>",
                            [("Content-Type", "text/html"), ("Retry-After", "1")])
        if not req.path.startswith("/wp-json"):
            return None
        state = self.token_state(bearer(req)) if req.header("authorization").startswith("Bearer ") else "ok"
        if state == "expired":
            return _wp_error(403, "jwt_auth_invalid_token", "Expired token")
        if state != "ok":
            return _wp_error(403, "jwt_auth_invalid_token", "Signature verification failed")
        auth = req.header("authorization")
        if auth.startswith("Basic "):  # application passwords (WordPress 5.6+)
            pair = base64.b64decode(auth.removeprefix("Basic ").strip()).decode("utf-8", "replace")
            if pair not in self.app_passwords:
                return _wp_error(401, "incorrect_password", "The provided password is an invalid application password.")
        if self.take("malformed_next"):
            return broken_json(b'[{"id": 1, "title": ')
        return None

    def no_route(self, req: Request) -> Response:
        if req.path.startswith("/wp-json"):
            return _wp_error(404, "rest_no_route", "No route was found matching the URL and request method.")
        for post in self.public_posts():
            if req.path == self.link(post).removeprefix(self.base_url):
                html = f"<!doctype html><html><body><article><h1>{escape(post.title)}</h1>{post.content}</article></body></html>"
                return Response(200, html.encode(), [("Content-Type", "text/html; charset=UTF-8")])
        return _page_not_found()

    @route("/")
    def short_link(self, req: Request) -> Response:
        """`/?p=ID` redirects to the post's permalink while the post is public."""
        post = self.posts.get(int(req.query["p"])) if req.query.get("p", "").isdigit() else None
        if post is not None and not post.deleted and post.status == "publish":
            return Response(301, b"", [("Location", self.link(post)), ("Content-Type", "text/html")])
        return _page_not_found()

    @route("/wp-json")
    @route("/wp-json/")
    def index(self, req: Request) -> Response:
        return Response.json({"name": self.name, "description": "Home of the Lincoln Lions", "url": self.base_url,
                              "home": self.base_url, "gmt_offset": "0", "timezone_string": "",
                              "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1"],
                              "authentication": {"application-passwords": {}}, "routes": {}})

    @route("/wp-json/wp/v2/{kind}")
    @route("/wp-json/wp/v2/{kind}/")
    def collection(self, req: Request, kind: str) -> Response:
        bounds: dict[str, datetime] = {}
        for name in ("after", "modified_after"):  # site-local times, strictly after, as WP's date_query
            raw = req.query.get(name)
            if raw is None:
                continue
            try:
                bounds[name] = datetime.fromisoformat(raw.removesuffix("Z")).replace(tzinfo=None)
            except ValueError:
                return Response.json({"code": "rest_invalid_param", "message": f"Invalid parameter(s): {name}",
                                      "data": {"status": 400, "params": {name: "Invalid date."}}}, 400)
        if kind == "posts":
            posts = self.public_posts()
            include = {int(x) for x in req.query.get("include", "").split(",") if x.isdigit()}
            if include:
                posts = [p for p in posts if p.id in include]
            if "after" in bounds:
                posts = [p for p in posts if _naive(p.date) > bounds["after"]]
            if "modified_after" in bounds:
                posts = [p for p in posts if _naive(p.modified) > bounds["modified_after"]]
            if req.query.get("orderby") == "modified":
                posts = sorted(posts, key=lambda p: (p.modified, p.id), reverse=req.query.get("order") != "asc")
            rows = [self.post_json(p, "_embed" in req.query) for p in posts]
        elif kind == "comments":
            wanted = {int(x) for x in re.split(r"[,\s]+", req.query.get("post", "")) if x.isdigit()}
            chosen = sorted((c for c in self.comments.values() if self.public_comment(c)
                             and (not wanted or c.post in wanted)
                             and ("after" not in bounds or _naive(c.date) > bounds["after"])),
                            key=(lambda c: (c.date, c.id)) if req.query.get("orderby") == "date_gmt" else (lambda c: c.id),
                            reverse=req.query.get("order") != "asc")
            rows = [self.comment_json(c) for c in chosen]
        else:
            return self.no_route(req)
        return self._collection(req, kind, rows)

    def _collection(self, req: Request, kind: str, rows: list[dict[str, Any]]) -> Response:
        per_page = max(1, min(int(req.query.get("per_page") or 10), 100))
        page = max(1, int(req.query.get("page") or 1))
        total = len(rows)
        pages = (total + per_page - 1) // per_page
        if page > pages and total > 0:
            return _wp_error(400, "rest_post_invalid_page_number",
                             "The page number requested is larger than the number of pages available.")
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages)), ("Allow", "GET")]
        links = []
        base = f"{self.base_url}/wp-json/wp/v2/{kind}"
        query = {k: v for k, v in req.query.items() if k != "page"}
        if page > 1:
            links.append(f'<{base}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        if links:
            headers.append(("Link", ", ".join(links)))
        return Response.json(rows[(page - 1) * per_page: page * per_page], headers=headers)

    @route("/wp-json/wp/v2/{kind}/{number}")
    @route("/wp-json/wp/v2/{kind}/{number}/")
    def single(self, req: Request, kind: str, number: str) -> Response:
        if kind not in ("posts", "comments") or not number.isdigit():
            return self.no_route(req)
        if kind == "posts":
            post = self.posts.get(int(number))
            if post is None or post.deleted:
                return _wp_error(404, "rest_post_invalid_id", "Invalid post ID.")
            if post.status != "publish":
                return _wp_error(401, "rest_forbidden", "Sorry, you are not allowed to do that.")
            return Response.json(self.post_json(post, False))
        comment = self.comments.get(int(number))
        if comment is None or comment.deleted:
            return _wp_error(404, "rest_comment_invalid_id", "Invalid comment ID.")
        if not self.public_comment(comment):
            return _wp_error(401, "rest_cannot_read", "Sorry, you are not allowed to read this comment.")
        return Response.json(self.comment_json(comment))

    # --- feeds -----------------------------------------------------------------------------

    @route("/feed")
    @route("/feed/")
    @route("/feed/atom")
    @route("/feed/atom/")
    def feed(self, req: Request) -> Response:
        atom = "atom" in req.path
        posts = self.public_posts()
        page = int(req.query.get("paged") or 1)
        chunk = posts[(page - 1) * self.posts_per_rss: page * self.posts_per_rss] if not self.feed_complete else posts
        if page > 1 and not chunk:
            return _page_not_found()
        more = self.feed_paged and not self.feed_complete and page * self.posts_per_rss < len(posts)
        path = "/feed/atom/" if atom else "/feed/"
        next_link = (f'<atom:link rel="next" href="{self.base_url}{path}?paged={page + 1}" />' if more and not atom
                     else f'<link rel="next" href="{self.base_url}{path}?paged={page + 1}" />' if more else "")
        complete = "<fh:complete/>" if self.feed_complete else ""
        body = self._atom(chunk, next_link, complete) if atom else self._rss(chunk, next_link, complete)
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:20] + '"'
        if req.header("if-none-match") == etag:
            return Response(304, b"", [("ETag", etag)])
        ctype = "application/atom+xml; charset=UTF-8" if atom else "application/rss+xml; charset=UTF-8"
        return Response(200, body.encode(), [("Content-Type", ctype), ("ETag", etag)])

    def _rss(self, posts: list[WPost], next_link: str, complete: str) -> str:
        items = []
        for p in posts:
            count = sum(1 for c in self.comments.values() if c.post == p.id and self.public_comment(c))
            items.append(
                f"<item><title>{escape(p.title)}</title><link>{self.link(p)}</link>"
                f"<comments>{self.link(p)}#respond</comments><dc:creator>{_cdata('Communications Office')}</dc:creator>"
                f"<pubDate>{format_datetime(p.date.astimezone(UTC), usegmt=True)}</pubDate>"
                f"<category>{_cdata('News')}</category>"
                f'<guid isPermaLink="false">{self.base_url}/?p={p.id}</guid>'
                f"<description>{_cdata(re.sub(r'<[^>]+>', '', p.content).strip()[:55] + ' [&#8230;]')}</description>"
                f"<content:encoded>{_cdata(p.content)}</content:encoded>"
                f"<wfw:commentRss>{self.link(p)}feed/</wfw:commentRss><slash:comments>{count}</slash:comments></item>")
        return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
                'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/" '
                'xmlns:fh="http://purl.org/syndication/history/1.0">'
                f"<channel><title>{escape(self.name)}</title>"
                f'<atom:link href="{self.base_url}/feed/" rel="self" type="application/rss+xml" />{next_link}{complete}'
                f"<link>{self.base_url}</link><description>Home of the Lincoln Lions</description>"
                f"<lastBuildDate>{format_datetime(self.now().astimezone(UTC), usegmt=True)}</lastBuildDate>"
                f"<language>en-US</language><sy:updatePeriod>hourly</sy:updatePeriod>{''.join(items)}</channel></rss>")

    def _atom(self, posts: list[WPost], next_link: str, complete: str) -> str:
        entries = []
        for p in posts:
            entries.append(
                f"<entry><author><name>Communications Office</name></author>"
                f'<title type="html">{_cdata(escape(p.title))}</title>'
                f'<link rel="alternate" type="text/html" href="{self.link(p)}" />'
                f"<id>{self.base_url}/?p={p.id}</id>"
                f"<updated>{_wp(p.modified)}Z</updated><published>{_wp(p.date)}Z</published>"
                f'<category scheme="{self.base_url}" term="News" />'
                f'<summary type="html">{_cdata(re.sub(r"<[^>]+>", "", p.content).strip()[:55])}</summary>'
                f'<content type="html" xml:base="{self.link(p)}">{_cdata(p.content)}</content></entry>')
        newest = max((p.modified for p in posts), default=self.now())
        return ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
                'xmlns:thr="http://purl.org/syndication/thread/1.0" xmlns:fh="http://purl.org/syndication/history/1.0" '
                'xml:lang="en-US">'
                f'<title type="text">{escape(self.name)}</title><updated>{_wp(newest)}Z</updated>'
                f'<link rel="alternate" type="text/html" href="{self.base_url}" /><id>{self.base_url}/feed/atom/</id>'
                f'<link rel="self" type="application/atom+xml" href="{self.base_url}/feed/atom/" />{next_link}{complete}'
                f"{''.join(entries)}</feed>")


def _naive(when: datetime) -> datetime:
    """The sandbox's site time is UTC: `date` and `modified` as WordPress shows them."""
    return datetime.fromisoformat(_wp(when))


def _wp_error(status: int, code: str, message: str) -> Response:
    return Response.json({"code": code, "message": message, "data": {"status": status}}, status)


def _page_not_found() -> Response:
    return Response(404, b"<!doctype html><html><body><h1>Page not found</h1></body></html>",
                    [("Content-Type", "text/html; charset=UTF-8")])


class FeedsContract(ContractAdapter):
    """The contract-suite adapter: a WordPress site read through its REST API (`wp:` accounts)."""

    platform = "feeds"
    token = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2xpbmNvbG4uazEyLmV4YW1wbGUifQ."
             "d3Atc2FuZGJveC1zaWduYXR1cmUtOWMyZA")
    sandbox: WordPressSandbox

    def __init__(self) -> None:
        super().__init__(WordPressSandbox())
        self.site = SITE

    def seed_account(self) -> SeededAccount:
        sb = self.sandbox
        start = sb.now() - timedelta(days=60)
        posts = [sb.publish(f"Lincoln High update {n + 1}", f"Schedules, sports and clubs for week {n + 1}.",
                            image=(n == 40), at=start + timedelta(days=n, hours=n % 5)) for n in range(55)]
        for i, post_id in enumerate(posts[-3:]):
            base = sb.posts[post_id].date
            first = sb.comment(post_id, f"Great news! ({i})", at=base + timedelta(hours=1))
            sb.comment(post_id, "When is the next meeting?", author="Community Member", at=base + timedelta(hours=2))
            reply = sb.comment(post_id, "Thank you - see the calendar.", author="Lincoln High School", parent=first,
                               at=base + timedelta(hours=3))
            sb.comment(post_id, "Found it, thanks!", parent=reply, at=base + timedelta(hours=4))
        return SeededAccount(f"wp:https://{SITE}", f"https://{SITE}/wp-json/", self.token, "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        """A second site is not modelled: bulk items go to the same sandbox, read under a second
        address (`bulk.` + the seeded site), so both accounts can be registered at once."""
        sb = self.sandbox
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: str(sb.publish(text, "Bulk body.", at=at)),
                  lambda post_id, text, at: sb.comment(int(post_id), text, at=at))
        # Another address for the same sandbox (the account's api_base routes every site here), so
        # the bulk account is registered beside the seeded one; it sees the seeded posts too.
        return SeededAccount(f"wp:https://bulk.{SITE}", f"wp:https://bulk.{SITE}", self.token, "Bulk Elementary")

    def item_id(self, kind: str, number: int) -> str:
        return f"{self.site}/{kind}/{number}"

    def live_item_ids(self, account_id: str) -> set[str]:
        sb = self.sandbox
        posts = {self.item_id("posts", p.id) for p in sb.public_posts()}
        comments = {self.item_id("comments", c.id) for c in sb.comments.values() if sb.public_comment(c)}
        return posts | comments

    def _split(self, item_id: str) -> tuple[str, int]:
        kind, number = item_id.removeprefix(f"{self.site}/").split("/")
        return kind, int(number)

    def publish(self, account_id: str) -> str:
        return self.item_id("posts", self.sandbox.publish("A new announcement", "From the contract suite."))

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        when = sb.now() - timedelta(days=days)
        post = sb.publish(f"An announcement from {days:g} days ago", "Old news.", at=when)
        sb.comment(post, "An old question.", at=when + timedelta(hours=1))
        return self.item_id("posts", post)

    def comment_on(self, item_id: str) -> str:
        _kind, number = self._split(item_id)
        return self.item_id("comments", self.sandbox.comment(number, "A new comment on an old post.",
                                                             author="Late Reader"))

    def edit(self, item_id: str) -> None:
        kind, number = self._split(item_id)
        if kind == "posts":
            self.sandbox.edit_post(number, f"Edited text #{self.next_edit()}")
        else:
            self.sandbox.edit_comment(number, f"Edited comment #{self.next_edit()}")

    def delete(self, item_id: str) -> None:
        """What the WordPress admin's Delete does: move to the trash (not public any more)."""
        kind, number = self._split(item_id)
        if kind == "posts":
            self.sandbox.trash(number)
        else:
            self.sandbox.comments[number].status = "trash"
