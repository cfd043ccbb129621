"""The greppable list of platforms: one line per connector, with the sandbox that fakes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archiver.core.errors import ConfigError
from archiver.core.settings import ConnectorSettings
from connectors.base import Connector, Registered

if TYPE_CHECKING:
    from archiver.sandbox.contract import ContractSandbox

# Each connector is imported when its platform is first used (Registered.connector).
CONNECTORS: dict[str, Registered] = {
    "x": Registered("connectors.x:XConnector", "connectors.x.sandbox:XContract"),
    "youtube": Registered("connectors.youtube:YouTubeConnector", "connectors.youtube.sandbox:YouTubeContract"),
    "facebook": Registered("connectors.facebook:FacebookConnector", "connectors.facebook.sandbox:FacebookContract"),
    "feeds": Registered("connectors.feeds:FeedsConnector", "connectors.feeds.sandbox:FeedsContract"),
    "bluesky": Registered("connectors.bluesky:BlueskyConnector", "connectors.bluesky.sandbox:BlueskyContract"),
    "mastodon": Registered("connectors.mastodon:MastodonConnector", "connectors.mastodon.sandbox:MastodonContract"),
    "instagram": Registered("connectors.instagram:InstagramConnector", "connectors.instagram.sandbox:InstagramContract"),
    "linkedin": Registered("connectors.linkedin:LinkedInConnector", "connectors.linkedin.sandbox:LinkedInContract"),
    "tiktok": Registered("connectors.tiktok:TikTokConnector", "connectors.tiktok.sandbox:TikTokContract"),
    "threads": Registered("connectors.threads:ThreadsConnector", "connectors.threads.sandbox:ThreadsContract"),
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


def load_sandbox(platform: str) -> ContractSandbox:
    """A fresh ContractSandbox for `platform` (the demo and the tests use the same fakes);
    imported only when asked for, so capturing never loads a fake."""
    import importlib

    module, _, cls = CONNECTORS[platform].sandbox.partition(":")
    sandbox: ContractSandbox = getattr(importlib.import_module(module), cls)()
    return sandbox


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
