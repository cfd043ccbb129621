"""An X-API-v2-shaped fake, faithful where the archiver depends on it.

Shapes follow shared/research/platform_apis.md §4: snowflake ids (time in the top bits), edits
as new ids listed in `edit_history_tweet_ids`, `meta.next_token` paging (`pagination_token`
on timelines, `next_token` on search), `since_id`, recent search limited to seven days, fields
returned only when asked for, HTTP 200 partial errors for deleted tweets, 401 for bad tokens
and 429 with `x-rate-limit-*` headers (epoch-second reset).
"""

from __future__ import annotations

import base64
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from archiver.sandbox.contract import ContractAdapter, SeededAccount
from archiver.sandbox.kit import PlatformSandbox, bearer, iso_millis, route
from archiver.sandbox.server import Request, Response

TWITTER_EPOCH_MS = 1288834974657
TIMELINE_CAP = 3200
SEARCH_WINDOW = timedelta(days=7)
PROBLEMS = "https://api.twitter.com/2/problems"
BASE_FIELDS = ("id", "text", "edit_history_tweet_ids")


@dataclass
class XUser:
    id: str
    username: str
    name: str
    created: datetime
    suspended: bool = False
    protected: bool = False


@dataclass
class Version:
    id: str
    text: str
    created: datetime


@dataclass
class Chain:
    """One post and its edits; the archive's item id is `versions[0].id`."""

    author_id: str
    versions: list[Version]
    conversation_id: str
    reply_to: str | None = None  # the version id replied to
    reply_to_user: str | None = None
    media_keys: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def root(self) -> str:
        return self.versions[0].id

    @property
    def current(self) -> Version:
        return self.versions[-1]


class XSandbox(PlatformSandbox):
    """Answers like api.x.com/2."""

    cdn_tag = b"sandbox-x"
    headers_on_errors = True

    def __init__(self, *, tokens: set[str], now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now=now)
        self.tokens = set(tokens)
        self.users: dict[str, XUser] = {}
        self.chains: dict[str, Chain] = {}
        self.version_root: dict[str, str] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.throttle_reset_at: datetime | None = None  # tests: a fixed x-rate-limit-reset
        self.calls = 0
        self._seq = itertools.count(1)

    # --- timeline mutators -----------------------------------------------------------------

    def new_id(self, when: datetime) -> str:
        ms = int(when.timestamp() * 1000) - TWITTER_EPOCH_MS
        return str((ms << 22) | (next(self._seq) & 0x3FFFFF))

    def add_user(self, user_id: str, username: str, name: str) -> XUser:
        user = XUser(user_id, username, name, self.now() - timedelta(days=4000))
        self.users[user_id] = user
        return user

    def user_by_name(self, username: str) -> XUser | None:
        name = username.lstrip("@").lower()
        return next((u for u in self.users.values() if u.username.lower() == name), None)

    def post(self, author_id: str, text: str, *, at: datetime | None = None, reply_to: str | None = None,
             photo: bool = False, video: bool = False) -> str:
        when = at or self.now()
        tweet_id = self.new_id(when)
        conversation, to_user = tweet_id, None
        if reply_to is not None:
            parent = self.chains[self.version_root[reply_to]]
            conversation, to_user = parent.conversation_id, parent.author_id
        chain = Chain(author_id, [Version(tweet_id, text, when)], conversation, reply_to, to_user)
        if photo:
            key = f"3_{tweet_id}"
            self.media[key] = {"media_key": key, "type": "photo", "url": f"/cdn/media/F{tweet_id}.jpg",
                               "width": 1200, "height": 675, "alt_text": "A photo from the sandbox"}
            chain.media_keys.append(key)
        if video:
            key = f"7_{tweet_id}"
            self.media[key] = {
                "media_key": key, "type": "video", "duration_ms": 12000, "width": 1280, "height": 720,
                "preview_image_url": f"/cdn/ext_tw_video_thumb/{tweet_id}/pu/img/thumb.jpg",
                "variants": [
                    {"bit_rate": 832000, "content_type": "video/mp4",
                     "url": f"/cdn/ext_tw_video/{tweet_id}/pu/vid/640x360/low.mp4?tag=12"},
                    {"bit_rate": 2176000, "content_type": "video/mp4",
                     "url": f"/cdn/ext_tw_video/{tweet_id}/pu/vid/1280x720/high.mp4?tag=12"},
                    {"content_type": "application/x-mpegURL",
                     "url": f"/cdn/ext_tw_video/{tweet_id}/pu/pl/playlist.m3u8?tag=12"},
                ],
            }
            chain.media_keys.append(key)
        self.chains[tweet_id] = chain
        self.version_root[tweet_id] = tweet_id
        return tweet_id

    def edit(self, tweet_id: str, text: str, *, at: datetime | None = None) -> str:
        """A new version with a new id; every version's lookup now lists the whole chain."""
        chain = self.chains[self.version_root[tweet_id]]
        when = at or self.now()
        new = Version(self.new_id(when), text, when)
        chain.versions.append(new)
        self.version_root[new.id] = chain.root
        return new.id

    def delete(self, tweet_id: str) -> None:
        self.chains[self.version_root[tweet_id]].deleted = True

    def live(self, author_id: str | None = None) -> list[Chain]:
        return [c for c in self.chains.values() if not c.deleted and (author_id is None or c.author_id == author_id)]

    def timeline_rows(self, user_id: str) -> list[Chain]:
        rows = sorted(self.live(user_id), key=lambda c: int(c.current.id), reverse=True)
        return rows[:TIMELINE_CAP]

    # --- HTTP ------------------------------------------------------------------------------

    def gate(self, req: Request) -> Response | None:
        if self.token_state(bearer(req)) != "ok":
            return Response.json({"title": "Unauthorized", "type": "about:blank", "status": 401,
                                  "detail": "Unauthorized"}, 401)
        self.calls += 1
        if self.take("throttle_next"):
            reset = int(self.throttle_reset_at.timestamp()) if self.throttle_reset_at else int(time.time()) + 1
            return Response.json(
                {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
                429, [("x-rate-limit-limit", "1500"), ("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", str(reset))],
            )
        req.reply_headers += [("x-rate-limit-limit", "1500"), ("x-rate-limit-remaining", str(max(0, 1500 - self.calls))),
                              ("x-rate-limit-reset", str(int(time.time()) + 900)), ("api-version", "2.140")]
        return None

    def no_route(self, req: Request) -> Response:
        return Response.json({"title": "Not Found", "detail": "Sorry, that page does not exist.", "type": "about:blank",
                              "status": 404}, 404)

    @route("/2/users/by/username/{username}")
    def user_by_username(self, req: Request, username: str) -> Response:
        return self._user(req, self.user_by_name(username), username, "username")

    @route("/2/users/{user_id}")
    def user(self, req: Request, user_id: str) -> Response:
        return self._user(req, self.users.get(user_id), user_id, "id")

    def _user(self, req: Request, user: XUser | None, value: str, param: str) -> Response:
        if user is None:
            return _errors("user", param, value, f"Could not find user with {param}: [{value}].")
        if user.suspended:
            return _errors("user", param, value, f"User has been suspended: [{value}].", "Forbidden")
        return Response.json({"data": self._user_json(user, _fields(req, "user.fields"))})

    def _user_json(self, user: XUser, fields: set[str]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": user.id, "name": user.name, "username": user.username, "created_at": iso_millis(user.created),
            "protected": user.protected, "verified": False,
            "public_metrics": {"followers_count": 4059, "following_count": 250,
                               "tweet_count": len(self.live(user.id)), "listed_count": 12, "like_count": 80},
        }
        return {k: v for k, v in full.items() if k in ("id", "name", "username") or k in fields}

    def _listing(self, req: Request, rows: list[Chain], token_param: str, low: int) -> Response:
        raw = req.query.get("max_results") or "10"
        if not raw.isdigit() or not low <= int(raw) <= 100:
            return _invalid("max_results", raw, f"The `max_results` query parameter value [{raw}] is not between "
                            f"{low} and 100")
        size = int(raw)
        since, until = req.query.get("since_id"), req.query.get("until_id")
        if since:
            rows = [c for c in rows if int(c.current.id) > int(since)]
        if until:
            rows = [c for c in rows if int(c.current.id) < int(until)]
        token = req.query.get(token_param)
        if token:
            bound = int(_untoken(token))
            rows = [c for c in rows if int(c.current.id) < bound]
        chunk = rows[:size]
        meta: dict[str, Any] = {"result_count": len(chunk)}
        out: dict[str, Any] = {}
        if chunk:
            tweet_fields = _fields(req, "tweet.fields")
            out["data"] = [self._tweet_json(c, c.current, tweet_fields) for c in chunk]
            out.update(self._includes(req, chunk, [c.current for c in chunk]))
            meta["newest_id"], meta["oldest_id"] = chunk[0].current.id, chunk[-1].current.id
            if len(rows) > size:
                meta["next_token"] = _token(chunk[-1].current.id)
        if token:
            meta["previous_token"] = _token(str(int(_untoken(token)) + 1))
        out["meta"] = meta
        return Response.json(out)

    @route("/2/users/{user_id}/tweets")
    def timeline(self, req: Request, user_id: str) -> Response:
        user = self.users.get(user_id)
        if user is None or user.suspended:
            return self._user(req, user, user_id, "id")
        if user.protected:
            return _errors("user", "id", user_id, f"Sorry, you are not authorized to see the user with id: [{user_id}].",
                           "Authorization Error", "not-authorized-for-resource")
        rows = self.timeline_rows(user_id)
        exclude = set(filter(None, req.query.get("exclude", "").split(",")))
        if "replies" in exclude:
            rows = [c for c in rows if c.reply_to is None]
        return self._listing(req, rows, "pagination_token", 5)

    @route("/2/tweets/search/recent")
    def search(self, req: Request) -> Response:
        """`conversation_id:<id>` and `to:<username>` clauses OR-ed; seven days back; a
        `since_id` older than that window is refused as X refuses it."""
        query = req.query.get("query", "").strip()
        clauses = [re.fullmatch(r"(conversation_id|to):(\w+)", c.strip()) for c in query.split(" OR ")]
        if not query or len(query) > 512 or not all(clauses):
            return _invalid("query", req.query.get("query", ""),
                            "The sandbox only understands conversation_id:<id> and to:<username> [OR ...] "
                            "up to 512 characters")
        horizon = self.now() - SEARCH_WINDOW
        since = req.query.get("since_id")
        if since and (not since.isdigit() or _snowflake_time(since) < horizon):
            return _invalid("since_id", since, f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id "
                            f"created after {iso_millis(horizon)}.")
        wanted = {m.group(2) for m in clauses if m and m.group(1) == "conversation_id"}
        to_users = {u.id for m in clauses if m and m.group(1) == "to"
                    if (u := self.user_by_name(m.group(2))) is not None}
        rows = sorted((c for c in self.live() if c.root not in wanted and c.current.created >= horizon
                       and (c.conversation_id in wanted or (c.reply_to_user in to_users and c.author_id not in to_users))),
                      key=lambda c: int(c.current.id), reverse=True)
        return self._listing(req, rows, "next_token", 10)

    @route("/2/tweets")
    def lookup_many(self, req: Request) -> Response:
        """`GET /2/tweets?ids=a,b` (at most 100): the asked versions, in order, and a partial
        error for each id that is gone."""
        ids = [i for i in req.query.get("ids", "").split(",") if i]
        if not ids or len(ids) > 100 or not all(i.isdigit() for i in ids):
            return _invalid("ids", req.query.get("ids", ""), "The `ids` query parameter value must hold 1 to 100 ids")
        chains, shown, problems = [], [], []
        for tweet_id in ids:
            chain = self.chains.get(self.version_root.get(tweet_id, ""))
            if chain is None or chain.deleted:
                problems.append(_problem("tweet", "ids", tweet_id, f"Could not find tweet with ids: [{tweet_id}]."))
                continue
            chains.append(chain)
            shown.append(next(v for v in chain.versions if v.id == tweet_id))
        out: dict[str, Any] = {}
        if chains:
            fields = _fields(req, "tweet.fields")
            out["data"] = [self._tweet_json(c, v, fields) for c, v in zip(chains, shown, strict=True)]
            out.update(self._includes(req, chains, shown))
        if problems:
            out["errors"] = [*out.get("errors", []), *problems]
        return Response.json(out)

    @route("/2/tweets/{tweet_id}")
    def lookup(self, req: Request, tweet_id: str) -> Response:
        root = self.version_root.get(tweet_id)
        chain = self.chains.get(root) if root else None
        if not tweet_id.isdigit():
            return self.no_route(req)
        if chain is None or chain.deleted:
            return _errors("tweet", "id", tweet_id, f"Could not find tweet with id: [{tweet_id}].")
        version = next(v for v in chain.versions if v.id == tweet_id)
        out: dict[str, Any] = {"data": self._tweet_json(chain, version, _fields(req, "tweet.fields"))}
        out.update(self._includes(req, [chain], [version]))
        return Response.json(out)

    def _tweet_json(self, chain: Chain, version: Version, fields: set[str]) -> dict[str, Any]:
        root_created = chain.versions[0].created
        editable_until = root_created + timedelta(hours=1)
        remaining = max(0, 5 - (len(chain.versions) - 1))
        full: dict[str, Any] = {
            "id": version.id,
            "text": version.text,
            "edit_history_tweet_ids": [v.id for v in chain.versions],
            "created_at": iso_millis(version.created),
            "author_id": chain.author_id,
            "conversation_id": chain.conversation_id,
            "edit_controls": {"edits_remaining": remaining,
                              "is_edit_eligible": remaining > 0 and self.now() < editable_until,
                              "editable_until": iso_millis(editable_until)},
            "possibly_sensitive": False,
            "lang": "en",
            "reply_settings": "everyone",
            "public_metrics": {"retweet_count": 0, "like_count": len(chain.versions) * 3 + self.calls % 5,
                               "quote_count": 0, "bookmark_count": 0, "impression_count": 40 + self.calls,
                               "reply_count": sum(1 for c in self.live() if c.reply_to and
                                                  self.version_root.get(c.reply_to) == chain.root)},
        }
        if chain.reply_to:
            full["in_reply_to_user_id"] = chain.reply_to_user
            full["referenced_tweets"] = [{"type": "replied_to", "id": chain.reply_to}]
        if chain.media_keys:
            full["attachments"] = {"media_keys": list(chain.media_keys)}
        return {k: v for k, v in full.items() if k in BASE_FIELDS or k in fields}

    def _includes(self, req: Request, chains: list[Chain], shown: list[Version]) -> dict[str, Any]:
        expansions = _fields(req, "expansions")
        tweet_fields = _fields(req, "tweet.fields")
        includes: dict[str, list[dict[str, Any]]] = {}
        problems: list[dict[str, Any]] = []
        shown_ids = {v.id for v in shown}
        extra: dict[str, dict[str, Any]] = {}
        if "edit_history_tweet_ids" in expansions:
            for chain in chains:
                for version in chain.versions:
                    if version.id not in shown_ids:
                        extra[version.id] = self._tweet_json(chain, version, tweet_fields)
        if "referenced_tweets.id" in expansions:
            for chain in chains:
                if not chain.reply_to:
                    continue
                parent = self.chains.get(self.version_root.get(chain.reply_to, ""))
                if parent is None or parent.deleted:
                    problems.append(_problem("tweet", "referenced_tweets.id", chain.reply_to,
                                             f"Could not find tweet with referenced_tweets.id: [{chain.reply_to}]."))
                    continue
                version = next(v for v in parent.versions if v.id == chain.reply_to)
                extra.setdefault(version.id, self._tweet_json(parent, version, tweet_fields))
        if extra:
            includes["tweets"] = list(extra.values())
        if "author_id" in expansions:
            authors = dict.fromkeys(c.author_id for c in chains)
            users = [self._user_json(self.users[a], _fields(req, "user.fields")) for a in authors if a in self.users]
            if users:
                includes["users"] = users
        if "attachments.media_keys" in expansions:
            media = [self._media_json(k, _fields(req, "media.fields")) for c in chains for k in c.media_keys]
            if media:
                includes["media"] = media
        out: dict[str, Any] = {}
        if includes:
            out["includes"] = includes
        if problems:
            out["errors"] = problems
        return out

    def _media_json(self, key: str, fields: set[str]) -> dict[str, Any]:
        media = dict(self.media[key])
        for name in ("url", "preview_image_url"):
            if name in media:
                media[name] = self.base_url + media[name]
        if "variants" in media:
            media["variants"] = [{**v, "url": self.base_url + v["url"]} for v in media["variants"]]
        return {k: v for k, v in media.items() if k in ("media_key", "type") or k in fields}


def _snowflake_time(tweet_id: str) -> datetime:
    ms = (int(tweet_id) >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def _fields(req: Request, name: str) -> set[str]:
    return set(filter(None, req.query.get(name, "").split(",")))


def _token(value: str) -> str:
    return base64.b32encode(value.encode()).decode().rstrip("=").lower()


def _untoken(token: str) -> str:
    padded = token.upper() + "=" * (-len(token) % 8)
    try:
        value = base64.b32decode(padded).decode()
    except (ValueError, UnicodeDecodeError):
        return "0"
    return value if value.isdigit() else "0"


def _problem(resource: str, param: str, value: str, detail: str, title: str = "Not Found Error",
             kind: str = "resource-not-found") -> dict[str, Any]:
    """One entry of X's `errors` array (HTTP 200 partial errors)."""
    return {"value": value, "detail": detail, "title": title, "resource_type": resource, "parameter": param,
            "resource_id": value, "type": f"{PROBLEMS}/{kind}"}


def _errors(resource: str, param: str, value: str, detail: str, title: str = "Not Found Error",
            kind: str = "resource-not-found") -> Response:
    return Response.json({"errors": [_problem(resource, param, value, detail, title, kind)]})


def _invalid(param: str, raw: str, message: str) -> Response:
    return Response.json({"errors": [{"parameters": {param: [raw]}, "message": message}], "title": "Invalid Request",
                          "detail": "One or more parameters to your request was invalid.",
                          "type": f"{PROBLEMS}/invalid-request"}, 400)


# --- the contract-suite adapter ---------------------------------------------------------------

LINCOLN_ID, LINCOLN = "783214001", "LincolnHS"


class XContract(ContractAdapter):
    """The contract-suite adapter over XSandbox."""

    platform = "x"
    token = "AAAAAAAAAAAAAAAAAAAAAContractBearer%2Fsandbox7Qx9"
    sandbox: XSandbox

    def __init__(self) -> None:
        super().__init__(XSandbox(tokens=set()))
        self.marks: dict[str, str] = {}

    def _community(self) -> tuple[str, str]:
        sb = self.sandbox
        for uid, name in (("900001", "ParentVolunteer"), ("900002", "CommunityMember")):
            if uid not in sb.users:
                sb.add_user(uid, name, name)
        return "900001", "900002"

    def seed_account(self) -> SeededAccount:
        """55 posts over eight weeks (one photo, one video, one edited once); the three newest,
        all inside the seven-day search window, have replies and a reply from the school."""
        sb = self.sandbox
        sb.add_user(LINCOLN_ID, LINCOLN, "Lincoln High School")
        parent, member = self._community()
        start = sb.now() - timedelta(days=57)
        posts = []
        for n in range(55):
            posts.append(sb.post(LINCOLN_ID, f"Lincoln High update #{n + 1}: schedules, sports and clubs.",
                                 at=start + timedelta(days=n, hours=n % 7), photo=n == 54, video=n == 53))
        sb.edit(posts[50], "Lincoln High update #51: schedules, sports and clubs (corrected time).",
                at=start + timedelta(days=50, hours=1, minutes=10))
        self.marks["edited"] = posts[50]
        for i, root in enumerate(posts[-3:]):
            when = sb.chains[root].current.created
            first = sb.post(parent, f"Great news! ({i})", at=when + timedelta(hours=1), reply_to=root)
            sb.post(member, "When is the next meeting?", at=when + timedelta(hours=2), reply_to=root)
            sb.post(LINCOLN_ID, "Thank you for asking - see the calendar.", at=when + timedelta(hours=3),
                    reply_to=first)
            self.marks[f"recent{i}"], self.marks[f"recent{i}_first"] = root, first
        return SeededAccount(LINCOLN.lower(), f"https://x.com/{LINCOLN}", self.token, "Lincoln High School")

    def seed_bulk(self, count: int) -> SeededAccount:
        """Posts with replies, all inside the search window; few enough posts for the
        3,200-post timeline cap."""
        sb = self.sandbox
        uid, name = "783214099", "BulkElementary"
        sb.add_user(uid, name, "Bulk Elementary")
        parent, _member = self._community()
        per_post = max(2, -(-count // 3000) - 1)
        start = sb.now() - timedelta(days=6)
        step = timedelta(days=6) / max(count, 1)
        made = 0
        while made < count:
            root = sb.post(uid, f"Bulk post {made}", at=start + step * made)
            made += 1
            for n in range(per_post):
                if made < count:
                    sb.post(parent, f"Bulk reply {n}", at=start + step * made, reply_to=root)
                    made += 1
        return SeededAccount(name.lower(), f"@{name}", self.token, "Bulk Elementary")

    def _user_id(self, account_id: str) -> str:
        if account_id.isdigit():
            return account_id
        user = self.sandbox.user_by_name(account_id)
        if user is None:
            raise KeyError(account_id)
        return user.id

    def live_item_ids(self, account_id: str) -> set[str]:
        """The account's timeline (capped at 3,200) plus replies recent search can reach in
        conversations the account started inside the seven-day window."""
        sb = self.sandbox
        uid = self._user_id(account_id)
        own = sb.timeline_rows(uid)
        horizon = sb.now() - SEARCH_WINDOW
        roots = {c.root for c in own if c.reply_to is None and c.versions[0].created >= horizon}
        replies = {c.root for c in sb.live() if c.conversation_id in roots and c.root not in roots
                   and c.current.created >= horizon}
        return {c.root for c in own} | replies

    def publish(self, account_id: str) -> str:
        return self.sandbox.post(self._user_id(account_id), "A new announcement from the contract suite.")

    def edit(self, item_id: str) -> None:
        self.sandbox.edit(item_id, f"Edited text #{self.next_edit()}")

    def publish_old(self, account_id: str, days: float) -> str:
        sb = self.sandbox
        parent, _member = self._community()
        when = sb.now() - timedelta(days=days)
        root = sb.post(self._user_id(account_id), f"An announcement from {days:g} days ago.", at=when)
        sb.post(parent, "An old question.", at=when + timedelta(hours=1), reply_to=root)
        return root

    def comment_on(self, item_id: str) -> str:
        _parent, member = self._community()
        return self.sandbox.post(member, "A new reply to an old post.", reply_to=item_id)

    def delete(self, item_id: str) -> None:
        self.sandbox.delete(item_id)
