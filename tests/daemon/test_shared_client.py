"""The daemon's per-platform HTTP client is shared by every account's capture, so it must
never carry one account's cookies into another's requests."""

from __future__ import annotations

from archiver.core.settings import CaptureSettings
from archiver.daemon.worker import shared_client
from archiver.sandbox.server import Request, Response, SandboxServer


def test_the_shared_client_keeps_no_cookies() -> None:
    seen: list[str] = []

    def app(req: Request) -> Response:
        seen.append(req.header("cookie"))
        return Response.json({"ok": True}, headers=[("Set-Cookie", "session=account-one-secret; Path=/")])

    with SandboxServer(app) as server:
        client = shared_client(CaptureSettings(), 2)
        try:
            client.get(f"{server.url}/account-one")
            client.get(f"{server.url}/account-two")
        finally:
            client.close()
    assert seen == ["", ""]
