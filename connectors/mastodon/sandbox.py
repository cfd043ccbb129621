"""A Mastodon-REST-API-shaped fake of one instance, faithful where the archiver depends on it.

Shapes follow shared/research/platform_apis.md §7: snowflake-like string ids, account statuses
newest first with a `Link` header (`rel="next"` carries `max_id`, only when the page is full,
as Mastodon does), `/context` descendants, `edited_at` plus `/history`, 404
`{"error":"Record not found"}` for deleted statuses, `X-RateLimit-*` headers whose reset is
an ISO 8601 timestamp, 429 `{"error":"Too many requests"}` and 401
`{"error":"The access token is invalid"}`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import (
    PlatformSandbox,
    Store,
    broken_json,
    int_arg,
    iso_millis,
    route,
    seed_bulk,
    spread,
)
from archiver.sandbox.server import Request, Response

DOMAIN = "k12.social"
LIMIT_PER_WINDOW = 300


def _iso6(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class MAccount:
    id: str
    username: str
    display_name: str
    created: datetime


@dataclass
class MStatus:
    id: str
    account_id: str
    text: str
    created: datetime
    in_reply_to_id: str | None = None
    spoiler_text: str = ""
    sensitive: bool = False
    media: list[dict[str, Any]] = field(default_factory=list)
    edited: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    reblog_of: str | None = None


class MastodonSandbox(PlatformSandbox):
    """Answers like https://k12.social/api/v1."""

    cdn_prefix = "/system/"
    cdn_tag = b"mastodon-sandbox"

    def __init__(self, *, now: Callable[[], datetime] | None = None, domain: str = DOMAIN) -> None:
        super().__init__(now=now)
        self.domain = domain
        self.accounts: dict[str, MAccount] = {}
        self.statuses: Store[MStatus] = Store()
        self.tokens: dict[str, str] = {}  # token -> owner account id
        self.require_token = False
        self.async_refresh: set[str] = set()  # contexts still fetching remote replies
        self.overrides: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.remaining = LIMIT_PER_WINDOW
        self._seq = itertools.count(1)

    # --- timeline mutators -----------------------------------------------------------------

    def _new_id(self, when: datetime) -> str:
        return str((int(when.timestamp() * 1000) << 16) + next(self._seq) % 65536)

    def add_account(self, username: str, display_name: str) -> str:
        when = self.now() - timedelta(days=900)
        account_id = str(100000 + len(self.accounts) + 1)
        self.accounts[account_id] = MAccount(account_id, username, display_name, when)
        return account_id

    def post(self, account_id: str, text: str, *, reply_to: str | None = None, image: bool = False,
             at: datetime | None = None, reblog_of: str | None = None) -> str:
        when = at or self.now()
        status_id = self._new_id(when)
        media = []
        if image:
            media_id = str(700000 + len(self.statuses))
            path = f"/system/media_attachments/files/000/{media_id[:3]}/{media_id[3:]}"
            media.append({"id": media_id, "path": path, "description": "Students at the science fair"})
        status = MStatus(status_id, account_id, text, when, reply_to, media=media, reblog_of=reblog_of)
        status.history.append(self._snapshot(status, when))
        self.statuses[status_id] = status
        return status_id

    def edit(self, status_id: str, text: str) -> None:
        status = self.statuses[status_id]
        status.text, status.edited = text, self.now()
        status.history.append(self._snapshot(status, status.edited))

    def delete(self, status_id: str) -> None:
        self.statuses.delete(status_id)

    def live(self, status_id: str) -> MStatus | None:
        status = self.statuses.get(status_id)
        return status if status is not None and not status.deleted else None

    def descendants(self, status_id: str) -> list[MStatus]:
        """Depth-first, oldest first; a deleted reply takes its subtree out of the thread."""
        out: list[MStatus] = []
        children = sorted((s for s in self.statuses.values() if s.in_reply_to_id == status_id and not s.deleted),
                          key=lambda s: int(s.id))
        for child in children:
            out.append(child)
            out.extend(self.descendants(child.id))
        return out

    # --- JSON shapes -----------------------------------------------------------------------

    def _snapshot(self, status: MStatus, when: datetime) -> dict[str, Any]:
        return {
            "content": f"<p>{escape(status.text)}</p>",
            "spoiler_text": status.spoiler_text,
            "sensitive": status.sensitive,
            "created_at": iso_millis(when),
            "account": self._account_json(self.accounts[status.account_id]),
            "media_attachments": [self._media_json(m) for m in status.media],
            "emojis": [],
        }

    def _account_json(self, account: MAccount) -> dict[str, Any]:
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.username,
            "display_name": account.display_name,
            "locked": False,
            "bot": False,
            "group": False,
            "created_at": iso_millis(account.created),
            "note": "<p>Official account</p>",
            "url": f"https://{self.domain}/@{account.username}",
            "uri": f"https://{self.domain}/users/{account.username}",
            "avatar": f"{self.base_url}/system/accounts/avatars/{account.id}/original/avatar.png",
            "followers_count": 1200,
            "following_count": 10,
            "statuses_count": sum(1 for s in self.statuses.values() if s.account_id == account.id and not s.deleted),
            "last_status_at": self.now().strftime("%Y-%m-%d"),
            "emojis": [],
            "fields": [],
        }

    def _media_json(self, media: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": media["id"],
            "type": "image",
            "url": f"{self.base_url}{media['path']}/original/57859aede991da25.jpeg",
            "preview_url": f"{self.base_url}{media['path']}/small/57859aede991da25.jpeg",
            "remote_url": None,
            "meta": {"original": {"width": 640, "height": 480, "size": "640x480", "aspect": 1.3333333333333333}},
            "description": media["description"],
            "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
        }

    def status_json(self, status: MStatus) -> dict[str, Any]:
        account = self.accounts[status.account_id]
        parent = self.statuses.get(status.in_reply_to_id or "")
        reblog = self.statuses.get(status.reblog_of or "")
        data = {
            "id": status.id,
            "created_at": iso_millis(status.created),
            "edited_at": iso_millis(status.edited) if status.edited else None,
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": parent.account_id if parent else None,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": "public",
            "language": "en",
            "uri": f"https://{self.domain}/users/{account.username}/statuses/{status.id}",
            "url": f"https://{self.domain}/@{account.username}/{status.id}",
            "replies_count": sum(1 for s in self.statuses.values() if s.in_reply_to_id == status.id and not s.deleted),
            "reblogs_count": 3,
            "favourites_count": 7,
            "quotes_count": 0,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "content": "" if reblog else f"<p>{escape(status.text)}</p>",
            "reblog": self.status_json(reblog) if reblog else None,
            "application": {"name": "Web", "website": None},
            "account": self._account_json(account),
            "media_attachments": [self._media_json(m) for m in status.media],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        override = self.overrides.get(status.id)
        return override(data) if override else data

    # --- HTTP ------------------------------------------------------------------------------

    def _rate_headers(self, remaining: int | None = None, reset: datetime | None = None) -> list[tuple[str, str]]:
        now = self.now()
        window_end = reset or now + timedelta(seconds=300 - int(now.timestamp()) % 300)
        left = self.remaining if remaining is None else remaining
        return [("X-RateLimit-Limit", str(LIMIT_PER_WINDOW)), ("X-RateLimit-Remaining", str(left)),
                ("X-RateLimit-Reset", _iso6(window_end))]

    def gate(self, req: Request) -> Response | None:
        if not req.path.startswith("/api/v1/"):
            return _record_not_found()
        auth = req.header("authorization")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if auth and self.token_state(token) != "ok":
            return Response.json({"error": "The access token is invalid"}, 401,
                                 [("WWW-Authenticate", 'Bearer realm="Doorkeeper", error="invalid_token", '
                                   'error_description="The access token is invalid"')])
        if self.require_token and not token:
            return Response.json({"error": "This API requires an authenticated user"}, 401)
        if self.take("throttle_next"):
            return Response.json({"error": "Too many requests"}, 429,
                                 self._rate_headers(0, self.now() + timedelta(milliseconds=400)))
        if self.take("malformed_next"):
            return broken_json(b'[{"id": "1')
        self.remaining = max(self.remaining - 1, 1)
        if self.take("exhaust_next"):
            req.reply_headers += self._rate_headers(0, self.now() + timedelta(milliseconds=300))
        else:
            req.reply_headers += self._rate_headers()
        return None

    def no_route(self, req: Request) -> Response:
        return _record_not_found()

    @route("/api/v1/accounts/lookup")
    def lookup(self, req: Request) -> Response:
        acct = req.query.get("acct", "").lstrip("@").lower()
        user, _, domain = acct.partition("@")
        if domain and domain != self.domain:
            return _record_not_found()
        for account in self.accounts.values():
            if account.username.lower() == user:
                return Response.json(self._account_json(account))
        return _record_not_found()

    @route("/api/v1/accounts/verify_credentials")
    def verify_credentials(self, req: Request) -> Response:
        owner = self.accounts.get(self.tokens.get(req.header("authorization").removeprefix("Bearer ").strip(), ""))
        if owner is None:
            return Response.json({"error": "The access token is invalid"}, 401)
        return Response.json(self._account_json(owner))

    @route("/api/v1/accounts/{account_id}")
    def account(self, req: Request, account_id: str) -> Response:
        account = self.accounts.get(account_id)
        return Response.json(self._account_json(account)) if account else _record_not_found()

    @route("/api/v1/statuses/{status_id}")
    @route("/api/v1/statuses/{status_id}/{view}")
    def status(self, req: Request, status_id: str, view: str = "") -> Response:
        status = self.live(status_id)
        if status is None or view not in ("", "context", "history"):
            return _record_not_found()
        if view == "context":
            return self._context(status)
        return Response.json(status.history if view else self.status_json(status))

    @route("/api/v1/accounts/{account_id}/statuses")
    def account_statuses(self, req: Request, account_id: str) -> Response:
        if account_id not in self.accounts:
            return _record_not_found()
        limit = int_arg(req, "limit", 20, 1, 40)
        rows = sorted((s for s in self.statuses.values() if s.account_id == account_id and not s.deleted),
                      key=lambda s: int(s.id), reverse=True)
        if req.query.get("exclude_replies") == "true":
            rows = [s for s in rows if s.in_reply_to_id is None]
        if req.query.get("max_id"):
            rows = [s for s in rows if int(s.id) < int(req.query["max_id"])]
        if req.query.get("since_id"):
            rows = [s for s in rows if int(s.id) > int(req.query["since_id"])]
        if req.query.get("min_id"):
            rows = sorted((s for s in rows if int(s.id) > int(req.query["min_id"])), key=lambda s: int(s.id))[:limit]
            rows.sort(key=lambda s: int(s.id), reverse=True)
        page = rows[:limit]
        links = []
        path = f"{self.base_url}/api/v1/accounts/{account_id}/statuses"
        if len(page) == limit:
            links.append(f'<{path}?{urlencode({"limit": limit, "max_id": page[-1].id})}>; rel="next"')
        if page:
            links.append(f'<{path}?{urlencode({"limit": limit, "min_id": page[0].id})}>; rel="prev"')
        headers = [("Link", ", ".join(links))] if links else []
        return Response.json([self.status_json(s) for s in page], headers=headers)

    def _context(self, status: MStatus) -> Response:
        ancestors: list[MStatus] = []
        parent = self.live(status.in_reply_to_id or "")
        while parent is not None:
            ancestors.insert(0, parent)
            parent = self.live(parent.in_reply_to_id or "")
        headers = []
        if status.id in self.async_refresh:
            headers = [("Mastodon-Async-Refresh", f'id="{status.id}", retry=5, result_count=0')]
        return Response.json({"ancestors": [self.status_json(s) for s in ancestors],
                              "descendants": [self.status_json(s) for s in self.descendants(status.id)]},
                             headers=headers)


def _record_not_found() -> Response:
    return Response.json({"error": "Record not found"}, 404)


class MastodonContract(ContractAdapter):
    """The contract-suite adapter over MastodonSandbox."""

    platform = "mastodon"
    token = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0"
    sandbox: MastodonSandbox

    def __init__(self) -> None:
        super().__init__(MastodonSandbox())
        self.archiver_id = self.sandbox.add_account("records_archiver", "District Records Archiver")
        self.sandbox.tokens[self.token] = self.archiver_id
        self.handles: dict[str, str] = {}

    def _canonical(self, username: str) -> str:
        return f"@{username}@{self.sandbox.domain}"

    def seed_account(self) -> SeededAccount:
        sb = self.sandbox
        school = sb.add_account("lincolnhigh", "Lincoln High School")
        parent = sb.add_account("pta_parent", "PTA Volunteer")
        neighbor = sb.add_account("neighbor", "Community Member")
        self.handles[self._canonical("lincolnhigh")] = school
        posts = [sb.post(school, f"Lincoln High update #{n + 1}: schedules, sports and clubs.", image=(n == 40), at=when)
                 for n, when in enumerate(spread(55, days=60, start=sb.now(), hour_cycle=5))]
        for i, post_id in enumerate(posts[-3:]):
            base = sb.statuses[post_id].created
            first = sb.post(parent, f"@lincolnhigh Great news! ({i})", reply_to=post_id, at=base + timedelta(hours=1))
            sb.post(neighbor, "@lincolnhigh When is the next meeting?", reply_to=post_id, at=base + timedelta(hours=2))
            sb.post(school, "@pta_parent Thank you - see the calendar.", reply_to=first, at=base + timedelta(hours=3))
            sb.post(neighbor, "@pta_parent Agreed!", reply_to=first, at=base + timedelta(hours=4))
        sb.edit(posts[-5], "Lincoln High update: CORRECTED bus schedule.")
        return SeededAccount(self._canonical("lincolnhigh"), f"https://{sb.domain}/@lincolnhigh", self.token,
                             "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        sb = self.sandbox
        school = sb.add_account("bulk_elementary", "Bulk Elementary")
        fan = sb.add_account("bulk_fan", "Bulk Fan")
        self.handles[self._canonical("bulk_elementary")] = school
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: sb.post(school, text, at=at),
                  lambda post_id, text, at: sb.post(fan, text, reply_to=post_id, at=at))
        return SeededAccount(self._canonical("bulk_elementary"), "@bulk_elementary@" + sb.domain, self.token,
                             "Bulk Elementary")

    def item_id(self, status_id: str) -> str:
        return f"{self.sandbox.domain}/{status_id}"

    def live_item_ids(self, account_id: str) -> set[str]:
        sb = self.sandbox
        owner = self.handles.get(account_id, account_id)
        own = [s for s in sb.statuses.values() if s.account_id == owner and not s.deleted]
        found = {s.id for s in own}
        for status in own:
            found.update(d.id for d in sb.descendants(status.id))
        return {self.item_id(s) for s in found}

    def publish(self, account_id: str) -> str:
        owner = self.handles.get(account_id, account_id)
        return self.item_id(self.sandbox.post(owner, "A new announcement from the contract suite."))

    def edit(self, item_id: str) -> None:
        self.sandbox.edit(item_id.rsplit("/", 1)[-1], f"Edited text #{self.next_edit()}")

    def _reader(self) -> str:
        sb = self.sandbox
        found = next((a for a, acct in sb.accounts.items() if acct.username == "late_reader"), None)
        return found or sb.add_account("late_reader", "Late Reader")

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        when = sb.now() - timedelta(days=days)
        status = sb.post(self.handles.get(account_id, account_id), f"An announcement from {days:g} days ago.", at=when)
        sb.post(self._reader(), "An old question.", reply_to=status, at=when + timedelta(hours=1))
        return self.item_id(status)

    def comment_on(self, item_id: str) -> str:
        return self.item_id(self.sandbox.post(self._reader(), "A new reply to an old post.",
                                              reply_to=item_id.rsplit("/", 1)[-1]))

    def delete(self, item_id: str) -> None:
        self.sandbox.delete(item_id.rsplit("/", 1)[-1])

    def expire_token(self, token: str) -> None:
        self.sandbox.revoked.add(token)
