"""A fake of TikTok's Display API v2 for an account's own videos.

Shapes follow shared/research/platform_apis.md §6: GET /v2/user/info/, POST /v2/video/list/
(`max_count` at most 20, `cursor` in epoch milliseconds, `has_more`), POST /v2/video/query/
(`filters.video_ids`, deleted or private ids simply left out of `videos`), the envelope
`{"data": {...}, "error": {"code", "message", "log_id"}}` with 401 access_token_invalid,
401 scope_not_authorized, 400 invalid_params and 429 rate_limit_exceeded, and cover images
whose signed URL expires after six hours (`x-expires`), served from /cdn/.

One liberty: the throttle answer carries `Retry-After: 1` (TikTok documents no rate-limit
header), so the contract suite can wait it out; see connectors/tiktok/README.md.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import PlatformSandbox, Store, bearer, route, seed_bulk, spread
from archiver.sandbox.server import Request, Response

VIDEO_FIELDS = frozenset({
    "id", "create_time", "cover_image_url", "share_url", "video_description", "duration", "height", "width",
    "title", "embed_html", "embed_link", "like_count", "comment_count", "share_count", "view_count",
})
NO_SCOPE = "The user did not authorize the scope required for completing this request."


@dataclass
class TtUser:
    open_id: str
    username: str
    display_name: str


@dataclass
class TtVideo:
    id: str
    owner: str  # open_id
    title: str
    description: str
    created: datetime
    duration: int
    deleted: bool = False
    private: bool = False


class TikTokSandbox(PlatformSandbox):
    """Answers like open.tiktokapis.com."""

    cdn_tag = b"sandbox-tt"

    def __init__(self, *, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now=now)
        self.users: dict[str, TtUser] = {}
        self.tokens: dict[str, str] = {}  # token -> open_id
        self.scopes: dict[str, set[str]] = {}
        self.videos: Store[TtVideo] = Store()
        self.clients: dict[str, str] = {}  # client_key -> client_secret
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> open_id
        self.field_override: dict[str, object] = {}  # video field -> value, to fake a type change
        self._ids = itertools.count(7_380_080_137_682_881_001)
        self._logs = itertools.count(1)

    # --- timeline mutators -----------------------------------------------------------------

    def add_user(self, open_id: str, username: str, display_name: str) -> None:
        self.users[open_id] = TtUser(open_id, username, display_name)

    def add_token(self, token: str, open_id: str,
                  scopes: tuple[str, ...] = ("user.info.basic", "user.info.profile", "video.list")) -> None:
        self.tokens[token] = open_id
        self.scopes[token] = set(scopes)

    def publish(self, open_id: str, title: str, description: str = "", *, at: datetime | None = None) -> str:
        video_id = str(next(self._ids))
        when = (at or self.now()).replace(microsecond=0)
        # create_time has one-second resolution; keep one video per second, as paging needs.
        while any(v.owner == open_id and v.created == when for v in self.videos.values()):
            when += timedelta(seconds=1)
        self.videos[video_id] = TtVideo(video_id, open_id, title, description or title, when, 15 + len(self.videos) % 45)
        return video_id

    def edit(self, video_id: str, description: str) -> None:
        self.videos[video_id].description = description

    def delete(self, video_id: str) -> None:
        self.videos.delete(video_id)

    def make_private(self, video_id: str) -> None:
        self.videos[video_id].private = True

    def _visible(self, open_id: str) -> list[TtVideo]:
        return sorted(self.videos.live(lambda v: v.owner == open_id and not v.private),
                      key=lambda v: v.created, reverse=True)

    def live_ids(self, open_id: str) -> set[str]:
        return {v.id for v in self._visible(open_id)}

    # --- HTTP ------------------------------------------------------------------------------

    def gate(self, req: Request) -> Response | None:
        if req.path == "/v2/oauth/token/" and req.method == "POST":
            return self._oauth(req)  # the refresh flow: before the bearer check
        if self.token_state(bearer(req)) != "ok":
            return self._error(401, "access_token_invalid", "The access token is invalid or not found in the request.")
        if self.take("throttle_next"):
            return self._error(429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later.",
                               headers=[("Retry-After", "1")])
        return None

    def no_route(self, req: Request) -> Response:
        return self._error(404, "invalid_params", f"Unknown endpoint {req.path}")

    @route("/v2/user/info/")
    def user_info(self, req: Request) -> Response:
        token = bearer(req)
        fields = _fields(req)
        if "username" in fields and "user.info.profile" not in self.scopes[token]:
            return self._error(401, "scope_not_authorized", NO_SCOPE)
        user = self.users[self.tokens[token]]
        row = {"open_id": user.open_id, "union_id": f"u-{user.open_id}", "display_name": user.display_name,
               "avatar_url": f"{self.base_url}/cdn/avatar/{user.open_id}.jpeg?x-expires=0", "username": user.username}
        return self._ok({"user": {k: v for k, v in row.items() if k in fields}})

    @route("/v2/video/{verb}/", "GET", "POST")
    def video(self, req: Request, verb: str) -> Response:
        if verb not in ("list", "query"):
            return self.no_route(req)
        if req.method != "POST":
            return self._error(405, "invalid_params", "Method not allowed")
        token, fields = bearer(req), _fields(req)
        if "video.list" not in self.scopes[token]:
            return self._error(401, "scope_not_authorized", NO_SCOPE)
        unknown = [f for f in fields if f not in VIDEO_FIELDS]
        if not fields or unknown:
            return self._error(400, "invalid_params", f"Invalid fields: {','.join(unknown) or 'fields is required'}")
        if "json" not in req.header("content-type"):
            return self._error(400, "invalid_params", "Content-Type must be application/json")
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return self._error(400, "invalid_params", "The request body is not valid JSON")
        return (self._list if verb == "list" else self._query)(self.tokens[token], body, fields)

    def _list(self, open_id: str, body: dict[str, Any], fields: list[str]) -> Response:
        max_count = body.get("max_count", 10)
        if not isinstance(max_count, int) or not 1 <= max_count <= 20:
            return self._error(400, "invalid_params", "max_count must be between 1 and 20")
        cursor = body.get("cursor")
        rows = self._visible(open_id)
        if isinstance(cursor, int) and cursor > 0:
            rows = [v for v in rows if int(v.created.timestamp() * 1000) < cursor]
        chunk = rows[:max_count]
        next_cursor = int(chunk[-1].created.timestamp() * 1000) if chunk else (cursor or 0)
        return self._ok({"videos": [self._video_json(v, fields) for v in chunk], "cursor": next_cursor,
                         "has_more": len(rows) > len(chunk)})

    def _query(self, open_id: str, body: dict[str, Any], fields: list[str]) -> Response:
        ids = (body.get("filters") or {}).get("video_ids") if isinstance(body.get("filters"), dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 20:
            return self._error(400, "invalid_params", "filters.video_ids must hold 1 to 20 ids")
        visible = {v.id: v for v in self._visible(open_id)}
        return self._ok({"videos": [self._video_json(visible[i], fields) for i in ids if i in visible]})

    def _video_json(self, v: TtVideo, fields: list[str]) -> dict[str, Any]:
        expires = int((self.now() + timedelta(hours=6)).timestamp())
        user = self.users[v.owner]
        row: dict[str, Any] = {
            "id": v.id,
            "create_time": int(v.created.timestamp()),
            "cover_image_url": (f"{self.base_url}/cdn/tos-useast5-p-0068-tx/{v.id}~c5_300x400.jpeg"
                                f"?x-expires={expires}&x-signature=sandbox{next(self._ids)}"),
            "share_url": (f"https://www.tiktok.com/@{user.username}/video/{v.id}"
                          "?utm_campaign=tt4d_open_api&utm_source=awsandbox0000000"),
            "video_description": v.description, "duration": v.duration, "height": 1024, "width": 576,
            "title": v.title, "embed_link": f"https://www.tiktok.com/player/v1/{v.id}",
            "like_count": 120, "comment_count": 8, "share_count": 3, "view_count": 4512,
        }
        row.update(self.field_override)
        return {k: val for k, val in row.items() if k in fields}

    def _ok(self, data: dict[str, Any]) -> Response:
        return Response.json({"data": data, "error": {"code": "ok", "message": "", "log_id": self._log_id()}},
                             headers=[("x-tt-logid", self._log_id())])

    def _oauth(self, req: Request) -> Response:
        """grant_type=refresh_token: a new 24-hour access token for the refresh token's user."""
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        open_id = self.refresh_tokens.get(form.get("refresh_token", ""))
        if self.clients.get(form.get("client_key", "")) != form.get("client_secret") or open_id is None \
                or form.get("grant_type") != "refresh_token":
            return Response.json({"error": "invalid_grant", "error_description": "Refresh token is invalid or expired.",
                                  "log_id": f"sandbox{next(self._logs)}"}, 400)
        access = f"act.refreshed-{next(self._logs)}"
        self.add_token(access, open_id)
        return Response.json({"access_token": access, "expires_in": 86400, "open_id": open_id,
                              "refresh_token": form["refresh_token"], "refresh_expires_in": 31536000,
                              "scope": "user.info.basic,user.info.profile,video.list", "token_type": "Bearer"})

    def _error(self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
        return Response.json({"data": {}, "error": {"code": code, "message": message, "log_id": self._log_id()}},
                             status, headers)

    def _log_id(self) -> str:
        return f"{self.now():%Y%m%d%H%M%S}SANDBOX{next(self._logs):06d}"


def _fields(req: Request) -> list[str]:
    return [f for f in req.query.get("fields", "").split(",") if f]


# --- the contract-suite adapter ----------------------------------------------------------------

LINCOLN, BULK = "open-lincoln-7f2c", "open-bulk-0b1d"


class TikTokContract(ContractAdapter):
    """Videos only: the Display API has no comments."""

    platform = "tiktok"
    token = "act.tt-contract-token-91ab3c"
    has_comments = False  # the Display API lists no comments
    sandbox: TikTokSandbox

    def __init__(self) -> None:
        super().__init__(TikTokSandbox())

    def _open_id(self, account_id: str) -> str:
        return next(u.open_id for u in self.sandbox.users.values() if u.username == account_id)

    def seed_account(self) -> SeededAccount:
        """55 videos: three pages at video/list's maximum of 20."""
        sb = self.sandbox
        sb.add_user(LINCOLN, "lincolnhigh", "Lincoln High School")
        sb.add_token(self.token, LINCOLN)
        for n, when in enumerate(spread(55, days=60, start=sb.now(), hour_cycle=7)):
            sb.publish(LINCOLN, f"Lincoln High clip #{n + 1}", f"Spirit week, day {n + 1} #lincolnhigh", at=when)
        return SeededAccount("lincolnhigh", "https://www.tiktok.com/@LincolnHigh", self.token, "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        sb, token = self.sandbox, "act.tt-bulk-token-55d0e1"
        sb.add_user(BULK, "bulkelementary", "Bulk Elementary")
        sb.add_token(token, BULK)
        seed_bulk(count, sb.now() - timedelta(days=365), lambda text, at: sb.publish(BULK, text, at=at), None)
        return SeededAccount("bulkelementary", "@bulkelementary", token, "Bulk Elementary")

    def live_item_ids(self, account_id: str) -> set[str]:
        return self.sandbox.live_ids(self._open_id(account_id))

    def publish(self, account_id: str) -> str:
        return self.sandbox.publish(self._open_id(account_id), "A new clip from the contract suite.")

    def publish_old(self, account_id: str, days: float) -> str:
        when = self.sandbox.now() - timedelta(days=days)
        return self.sandbox.publish(self._open_id(account_id), f"A clip from {days:g} days ago.", at=when)

    def comment_on(self, item_id: str) -> str:
        raise NotImplementedError("the TikTok Display API has no comments")

    def edit(self, item_id: str) -> None:
        self.sandbox.edit(item_id, f"Edited description #{self.next_edit()}")

    def delete(self, item_id: str) -> None:
        self.sandbox.delete(item_id)
