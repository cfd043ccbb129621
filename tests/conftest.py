"""Shared fixtures: temporary homes, both catalog databases, sandbox harnesses."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

# Property tests judge correctness, not speed: on a loaded 2-core machine one example can take
# longer than hypothesis's 200 ms default, which reported a flaky failure of a correct test.
settings.register_profile("archiver", deadline=None)
settings.load_profile("archiver")

PG_URL = os.environ.get("ARCHIVER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def _empty_config(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """An empty archiver.toml outside every test's tmp_path (ARCHIVER_CONFIG must exist)."""
    path = tmp_path_factory.mktemp("config") / "archiver.toml"
    path.write_text("")
    return path


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, _empty_config) -> None:  # type: ignore[no-untyped-def]
    """No test reads the developer's archiver.toml or ARCHIVER_* variables; every test names
    its district and state, as a real install must before capturing."""
    for key in list(os.environ):
        if key.startswith("ARCHIVER_") and key != "ARCHIVER_TEST_PG_URL":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ARCHIVER_CONFIG", str(_empty_config))
    monkeypatch.setenv("ARCHIVER_DISTRICT", "Test School District")
    monkeypatch.setenv("ARCHIVER_STATE", "WA")


_LOOPBACK = {"127.0.0.1", "localhost", "::1", "ip6-localhost"}
_real_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name not in _LOOPBACK and not name.startswith("127."):
        raise OSError(f"test safety net: refusing to resolve non-loopback host {name!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_traffic_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to fakes on 127.0.0.1 only; a real platform or AWS host fails fast."""
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only)


def _pg_database() -> Iterator[str]:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"archiver_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable ({type(exc).__name__}); the catalog "
                    "tests must run on it. Start it or set ARCHIVER_TEST_PG_URL.")
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Every catalog test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        yield from _pg_database()
