"""Remove credentials before a byte reaches a WARC, a log line or an error message.

Two nets: by name (Authorization headers, `access_token`-like query parameters, also inside
URLs embedded in JSON bodies) and by value (the exact token the session holds, raw and
URL-encoded, wherever it appears). What was replaced is reported so the WARC record can say
it is not byte-exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"

SECRET_PARAMS = frozenset(
    {
        "access_token",
        "input_token",
        "client_secret",
        "appsecret_proof",
        "refresh_token",
        "fb_exchange_token",
        "key",
        "api_key",
        "apikey",
        "token",
        "password",
        "code",
    }
)
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)

_PARAM_IN_TEXT = re.compile(
    r"(?P<pre>[?&;]|\\u0026|%26|%3F)(?P<name>(?:" + "|".join(sorted(SECRET_PARAMS, key=len, reverse=True)) + r"))"
    r"(?P<eq>=|%3D)(?P<value>[^&\"'\s\\<>#]+)",
    re.IGNORECASE,
)


class Redactor:
    """Knows the secrets of one session; strips them from URLs, headers and bodies."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= 4:
                values.update({secret, quote(secret, safe=""), quote_plus(secret)})
        # Longest first so an encoded form never leaves a raw remainder behind.
        self._values = sorted(values, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._values:
            value = value.replace(secret, REDACTED)
        return value

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            cleaned = [(k, REDACTED if k.lower() in SECRET_PARAMS else v) for k, v in pairs]
            url = urlunsplit(parts._replace(query=urlencode(cleaned, safe=",{}():")))
        return self.text(url)

    def headers(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return [
            (k, REDACTED if k.lower() in SECRET_HEADERS else self.text(v)) for k, v in headers
        ]

    def body(self, body: bytes) -> tuple[bytes, list[str]]:
        """Redacted body and a list of what was replaced (empty when untouched)."""
        notes: list[str] = []
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # Binary media: only exact secret values can hide in it.
            out = body
            for secret in self._values:
                raw = secret.encode()
                if raw in out:
                    out = out.replace(raw, REDACTED.encode())
                    if "session token value" not in notes:
                        notes.append("session token value")
            return out, notes

        def _sub(match: re.Match[str]) -> str:
            note = f"{match.group('name').lower()} query values"
            if note not in notes:
                notes.append(note)
            return f"{match.group('pre')}{match.group('name')}{match.group('eq')}{REDACTED}"

        redacted = _PARAM_IN_TEXT.sub(_sub, text) if "=" in text or "%3D" in text else text
        before = redacted
        redacted = self.text(redacted)
        if redacted != before:
            notes.append("session token value")
        return (redacted.encode("utf-8") if notes else body), notes
