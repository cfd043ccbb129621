"""Shared fixtures for the connector tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archiver.sandbox.server import SandboxServer
from tests.harness import switch_server


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """One loopback server per test module (stopping one takes time); each test plugs its own
    fresh sandbox into it (tests.harness.Live does)."""
    with switch_server() as (_switch, srv):
        yield srv
