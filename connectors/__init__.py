"""The greppable list of platforms: one line per connector, with the sandbox that fakes it."""

from __future__ import annotations

from archiver.errors import ConfigError
from archiver.settings import ConnectorSettings
from connectors.base import Connector, Registered
from connectors.facebook import FacebookConnector

CONNECTORS: dict[str, Registered] = {
    "facebook": Registered(FacebookConnector, "archiver.sandbox.facebook:FacebookContract"),
}


def load_sandbox(platform: str) -> object:
    """A fresh ContractSandbox for `platform` (the demo and the tests use the same fakes)."""
    import importlib

    module, _, cls = CONNECTORS[platform].sandbox.partition(":")
    return getattr(importlib.import_module(module), cls)()


def platforms() -> list[str]:
    return sorted(CONNECTORS)


def make_connector(platform: str, settings: ConnectorSettings | None = None) -> Connector:
    entry = CONNECTORS.get(platform)
    if entry is None:
        raise ConfigError(
            f"Unknown platform '{platform}'; choose one of: {', '.join(platforms())}"
        )
    return entry.connector(settings)  # type: ignore[call-arg]
