"""The greppable list of platforms: one line per connector, with the sandbox that fakes it."""

from __future__ import annotations

from archiver.core.errors import ConfigError
from archiver.core.settings import ConnectorSettings
from connectors.base import Connector, Registered
from connectors.bluesky import BlueskyConnector
from connectors.facebook import FacebookConnector
from connectors.feeds import FeedsConnector
from connectors.instagram import InstagramConnector
from connectors.linkedin import LinkedInConnector
from connectors.mastodon import MastodonConnector
from connectors.tiktok import TikTokConnector
from connectors.x import XConnector
from connectors.youtube import YouTubeConnector

CONNECTORS: dict[str, Registered] = {
    "x": Registered(XConnector, "archiver.sandbox.x:XContract"),
    "youtube": Registered(YouTubeConnector, "archiver.sandbox.youtube:YouTubeContract"),
    "facebook": Registered(FacebookConnector, "archiver.sandbox.facebook:FacebookContract"),
    "feeds": Registered(FeedsConnector, "archiver.sandbox.feeds:FeedsContract"),
    "bluesky": Registered(BlueskyConnector, "archiver.sandbox.bluesky:BlueskyContract"),
    "mastodon": Registered(MastodonConnector, "archiver.sandbox.mastodon:MastodonContract"),
    "instagram": Registered(InstagramConnector, "archiver.sandbox.instagram:InstagramContract"),
    "linkedin": Registered(LinkedInConnector, "archiver.sandbox.linkedin:LinkedInContract"),
    "tiktok": Registered(TikTokConnector, "archiver.sandbox.tiktok:TikTokContract"),
}


# Platforms the district policies name that cannot be captured, with the reason a person sees.
UNSUPPORTED: dict[str, str] = {
    "snapchat": "Snapchat has no public API that returns an organisation's own posts, so it "
    "cannot be captured; keep it in the inventory and archive its 'My Data' exports "
    "(see docs/platforms.md)",
}


# Shorthands a person may type: `accounts add wordpress SITE` registers `feeds wp:SITE`.
ALIASES: dict[str, tuple[str, str]] = {"wordpress": ("feeds", "wp:")}


def resolve_alias(platform: str, raw_id: str) -> tuple[str, str]:
    """The registered platform and account id a shorthand stands for (others unchanged)."""
    alias = ALIASES.get(platform.lower())
    if alias is None:
        return platform, raw_id
    target, prefix = alias
    return target, raw_id if raw_id.startswith(prefix) else f"{prefix}{raw_id}"


def load_sandbox(platform: str) -> object:
    """A fresh ContractSandbox for `platform` (the demo and the tests use the same fakes)."""
    import importlib

    module, _, cls = CONNECTORS[platform].sandbox.partition(":")
    return getattr(importlib.import_module(module), cls)()


def platforms() -> list[str]:
    return sorted(CONNECTORS)


def make_connector(platform: str, settings: ConnectorSettings | None = None) -> Connector:
    entry = CONNECTORS.get(platform)
    if platform in UNSUPPORTED:
        raise ConfigError(UNSUPPORTED[platform])
    if entry is None:
        shorthands = [f"{name} (= {target} {prefix}SITE)" for name, (target, prefix) in sorted(ALIASES.items())]
        raise ConfigError(
            f"Unknown platform '{platform}'; choose one of: {', '.join(platforms() + shorthands)}"
        )
    return entry.connector(settings)  # type: ignore[call-arg]
