"""The Graph API part Facebook's and Instagram's sandboxes share: versioned `/{version}/...` paths,
access tokens (in the query, or as a bearer token), the error envelope keyed by `code` (100/33
for a deleted object, 190/463 for an expired token, the 8000x throttles with
X-Business-Use-Case-Usage), cursor paging whose `next` URL repeats the token, signed CDN URLs.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from archiver.sandbox.kit import PlatformSandbox, b64_offset, bearer, from_b64_offset
from archiver.sandbox.server import Request, Response


def graph_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_error(status: int, message: str, type_: str, code: int, subcode: int | None = None,
                headers: list[tuple[str, str]] | None = None) -> Response:
    """Graph API's error envelope (Facebook and Instagram share it), keyed by `code`."""
    err: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = "Asandbox" + str(code)
    return Response.json({"error": err}, status, headers)


def graph_not_found(object_id: str) -> Response:
    """The 100/33 answer Graph API gives for a deleted (or invisible) object."""
    message = (f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
               "due to missing permissions, or does not support this operation. Please read the Graph API "
               "documentation at https://developers.facebook.com/docs/graph-api")
    return graph_error(400, message, "GraphMethodException", 100, 33,
                       headers=[("WWW-Authenticate", f'OAuth "Facebook Platform" "invalid_request" "{message}"')])


def graph_throttle(code: int, what: str, owner: str, kind: str, cputime: int, total: int) -> Response:
    usage = json.dumps({owner: [{"type": kind, "call_count": 100, "total_cputime": cputime, "total_time": total,
                                 "estimated_time_to_regain_access": 0}]}, separators=(",", ":"))
    return graph_error(400, f"(#{code}) There have been too many calls to this {what} account. Wait a bit and try "
                       "again. For more info, please refer to "
                       "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                       "OAuthException", code, headers=[("X-Business-Use-Case-Usage", usage)])


class GraphApi(PlatformSandbox):
    """graph.facebook.com: `/{version}/...` paths, access tokens, the shared envelopes."""

    bearer_tokens = True  # Facebook also takes `Authorization: Bearer`; Instagram's tests use the query

    def __init__(self, *, version: str, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(now=now)
        self.version = version
        self._ids = itertools.count(3_000_001)

    def gate(self, req: Request) -> Response | None:
        if not req.path.startswith(f"/{self.version}/"):
            return self.no_route(req)
        token = req.query.get("access_token") or (bearer(req) if self.bearer_tokens else "")
        state = self.token_state(token)
        if state == "missing":
            return graph_error(400, "An active access token must be used to query information about the current "
                               "user.", "OAuthException", 2500)
        if state == "expired":
            return graph_error(400, "Error validating access token: Session has expired on Monday, 05-Jan-26 "
                               "10:00:00 PST.", "OAuthException", 190, 463)
        if state != "ok":
            return graph_error(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        req.reply_headers += [("facebook-api-version", self.version),
                              ("x-app-usage", '{"call_count":1,"total_cputime":1,"total_time":1}')]
        return self.faults(req)

    def faults(self, req: Request) -> Response | None:
        return None

    def dispatch(self, req: Request, path: str | None = None) -> Response:
        return super().dispatch(req, req.path.removeprefix(f"/{self.version}"))

    def no_route(self, req: Request) -> Response:
        return graph_error(400, "Unknown path components", "OAuthException", 2500)

    def token_of(self, req: Request) -> str:
        return req.query.get("access_token") or bearer(req)

    def page_of(self, req: Request, rows: list[dict[str, Any]], cap: int = 100) -> dict[str, Any]:
        """Cursor paging: `cursors` always, a `next` URL (repeating the token) while more follow."""
        limit = min(int(req.query.get("limit") or 25), cap)
        start = from_b64_offset(req.query.get("after"))
        chunk = rows[start:start + limit]
        out: dict[str, Any] = {"data": chunk}
        if chunk:
            after = b64_offset(start + len(chunk))
            out["paging"] = {"cursors": {"before": b64_offset(start), "after": after}}
            if start + limit < len(rows):
                query = {k: v for k, v in req.query.items() if k not in ("after", "access_token")}
                query = {"access_token": self.token_of(req), "pretty": "0", **query, "after": after}
                out["paging"]["next"] = f"{self.base_url}{req.path}?{urlencode(query)}"
        return out

    def signed(self, path: str, extra: str = "_nc_cat=101") -> str:
        """A CDN URL with the `oh` signature and the `oe` expiry (hex epoch, three days out)."""
        expires = format(int(self.now().timestamp()) + 3 * 86400, "X")
        return f"{self.base_url}{path}?{extra}&oh=00_sandbox{next(self._ids)}&oe={expires}"
