"""A connector's 429 hook decides the wait when the platform's quota is not in the headers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.capture.session import CaptureSession
from archiver.core.clock import ManualClock
from archiver.core.errors import TryLater
from archiver.core.settings import CaptureSettings, ConnectorSettings
from archiver.sandbox.server import Response, SandboxServer
from archiver.warc.rolling import RollingWarc
from connectors.linkedin import LinkedInConnector
from connectors.x import XConnector


def session_for(tmp_path: Path, hook, clock: ManualClock) -> CaptureSession:  # type: ignore[no-untyped-def]
    rolling = RollingWarc(tmp_path / "spool", "t", {}, max_bytes=10**9, clock=clock)
    return CaptureSession(warc=rolling, clock=clock, settings=CaptureSettings(), token="tok-123456",
                          platform="p", account="acct", rate_limit_hook=hook, min_retry_seconds=30)


def serve(response: Response) -> SandboxServer:
    return SandboxServer(lambda req: response)


def test_linkedin_daily_quota_waits_for_midnight_utc(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    connector = LinkedInConnector(ConnectorSettings(min_retry_seconds=30))
    body = {"status": 429, "code": "TOO_MANY_REQUESTS", "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."}
    with serve(Response.json(body, 429)) as srv:
        session = session_for(tmp_path, connector.raise_for_429, clock)
        with pytest.raises(TryLater) as info:
            session.get(f"{srv.url}/rest/posts")
    # The exchange's own capture time is "now" for the hook; midnight UTC follows it.
    assert info.value.retry_at.hour == 0 and info.value.retry_at > clock.now()
    assert "daily API quota" in info.value.message


def test_x_usage_cap_is_not_a_15_minute_window(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    connector = XConnector(ConnectorSettings(min_retry_seconds=30))
    body = {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
            "type": "https://api.twitter.com/2/problems/usage-capped"}
    with serve(Response.json(body, 429)) as srv:
        session = session_for(tmp_path, connector.raise_for_429, clock)
        with pytest.raises(TryLater) as info:
            session.get(f"{srv.url}/2/users/1/tweets")
    assert "usage cap" in info.value.message
    assert (info.value.retry_at - clock.now()).total_seconds() >= 24 * 3600


def test_without_a_hook_the_connector_floor_still_applies(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    with serve(Response.json({}, 429, [("Retry-After", "1")])) as srv:
        session = session_for(tmp_path, None, clock)
        with pytest.raises(TryLater) as info:
            session.get(f"{srv.url}/x")
    assert (info.value.retry_at - clock.now()).total_seconds() == 30
