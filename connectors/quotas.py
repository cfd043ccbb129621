"""Each platform's quota model: what a request costs and how much one credential may spend.

Figures come from shared/research/platform_apis.md with its marks: [D] documented, [F] seen
in the field, UNCERTAIN where the platform does not publish them. Where the research has no
figure (X's monthly caps by tier, LinkedIn's per-app daily quotas, Graph's engaged-user
multipliers) the limit is None, meaning "not budgeted until the district configures it", never
a guessed number: `[connectors.<platform>.budget]` in archiver.toml sets or overrides it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from archiver.core.errors import ConfigError

PERIODS = ("minute", "5min", "15min", "hour", "day", "month")


@dataclass(frozen=True)
class QuotaModel:
    """`limit` units per `period` per credential; a day starts at midnight in `reset_tz`."""

    platform: str
    unit: str
    period: str
    limit: int | None
    reset_tz: str = "UTC"
    costs: Mapping[str, int] = field(default_factory=dict)  # method -> units (default 1)
    method_of: Callable[[str, str], str] = lambda method, url: "request"
    source: str = ""
    # Stop this share short of the limit: other tools of the district may share the project.
    reserve: float = 0.05

    def cost(self, method: str, url: str) -> int:
        return self.costs.get(self.method_of(method, url), 1)

    @property
    def usable(self) -> int | None:
        return None if self.limit is None else int(self.limit * (1 - self.reserve))


def _youtube_method(method: str, url: str) -> str:
    """`GET /youtube/v3/videos` is `videos.list`, as Google's quota table names it."""
    resource = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if not re.fullmatch(r"[A-Za-z]+", resource or ""):
        return "request"
    verb = {"GET": "list", "POST": "insert", "PUT": "update", "DELETE": "delete"}.get(method.upper(), "list")
    return f"{resource}.{verb}"


YOUTUBE_COSTS = {  # [D] "*.list = 1 unit, search.list = 100 units"
    "channels.list": 1, "playlistItems.list": 1, "videos.list": 1, "commentThreads.list": 1,
    "comments.list": 1, "search.list": 100,
}

MODELS: dict[str, QuotaModel] = {
    "youtube": QuotaModel(
        "youtube", "units", "day", 10_000, "America/Los_Angeles", YOUTUBE_COSTS, _youtube_method,
        "default 10,000 units/day per project, resets midnight Pacific [D]",
    ),
    "x": QuotaModel(
        "x", "requests", "15min", None, source="per-endpoint 15-minute windows (1500 user tweets, "
        "450 recent search, 300 lookups per 15 min observed 2022-23, current tiers UNCERTAIN) and "
        "monthly caps by tier: set connectors.x.budget for the district's tier",
    ),
    "facebook": QuotaModel(
        "facebook", "calls", "hour", None, source="200 x users per hour (app tokens), 4800 x engaged "
        "users per 24 h (Page tokens) [D]; the X-App-Usage / X-Business-Use-Case-Usage percentages "
        "are watched by the Graph connector, which pauses at 95%",
    ),
    "instagram": QuotaModel(
        "instagram", "calls", "day", None, source="4800 x impressions per 24 h per app and IG user "
        "[D]; usage headers watched by the Graph connector",
    ),
    "threads": QuotaModel("threads", "calls", "day", None, source="Graph-style usage headers"),
    "linkedin": QuotaModel(
        "linkedin", "requests", "day", None, source="daily per-app and per-member quotas per "
        "endpoint, reset midnight UTC, figures only in the developer portal (UNCERTAIN)",
    ),
    "tiktok": QuotaModel(
        "tiktok", "requests", "minute", 600, source="600 requests/min sliding window per endpoint [D]",
    ),
    "mastodon": QuotaModel(
        "mastodon", "requests", "5min", 300, source="300 requests / 5 min per account and per IP [D]",
    ),
    "bluesky": QuotaModel(
        "bluesky", "requests", "5min", 3000, source="3000 requests / 5 min per IP [D]",
    ),
}


def model_for(platform: str, overrides: Mapping[str, Any] | None = None) -> QuotaModel | None:
    """The platform's model with the district's overrides applied and checked.

    Overrides: `limit` (int >= 0), `period` (one of PERIODS), `reset_tz`, `reserve` (0-0.9),
    `costs` (method -> int >= 0; only methods the platform's model knows)."""
    base = MODELS.get(platform)
    if not overrides:
        return base
    where = f"connectors.{platform}.budget"
    if base is None:
        base = QuotaModel(platform, "requests", "day", None)
    known = {"limit", "period", "reset_tz", "reserve", "costs"}
    for key in overrides:
        if key not in known:
            raise ConfigError(f"Unknown setting {where}.{key}; use one of {', '.join(sorted(known))}")
    changes: dict[str, Any] = {}
    if "limit" in overrides:
        limit = overrides["limit"]
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ConfigError(f"{where}.limit must be a whole number of {base.unit} >= 0, not {limit!r}")
        changes["limit"] = limit
    if "period" in overrides:
        if overrides["period"] not in PERIODS:
            raise ConfigError(f"{where}.period must be one of {', '.join(PERIODS)}, not {overrides['period']!r}")
        changes["period"] = overrides["period"]
    if "reset_tz" in overrides:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(str(overrides["reset_tz"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}.reset_tz {overrides['reset_tz']!r} is not a time zone name "
                              "(e.g. America/Los_Angeles)") from None
        changes["reset_tz"] = str(overrides["reset_tz"])
    if "reserve" in overrides:
        reserve = overrides["reserve"]
        if not isinstance(reserve, int | float) or not 0 <= reserve <= 0.9:
            raise ConfigError(f"{where}.reserve must be a share between 0 and 0.9, not {reserve!r}")
        changes["reserve"] = float(reserve)
    if "costs" in overrides:
        costs = overrides["costs"]
        if not isinstance(costs, Mapping):
            raise ConfigError(f"{where}.costs must be a table of method = units")
        for method, units in costs.items():
            if base.costs and method not in base.costs:
                raise ConfigError(f"{where}.costs names unknown method {method!r}; "
                                  f"{platform} methods: {', '.join(sorted(base.costs))}")
            if not isinstance(units, int) or isinstance(units, bool) or units < 0:
                raise ConfigError(f"{where}.costs.{method} must be a whole number >= 0, not {units!r}")
        changes["costs"] = {**base.costs, **costs}
    return replace(base, **changes)
