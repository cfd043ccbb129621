"""LinkedIn organization identifiers and URNs.

Canonical account ids: the numeric organization id ("2414183"), or a lower-case vanity name
("lincoln-high-school") that harvest turns into the id through the Organizations API and
remembers in the cursor.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from archiver.core.errors import ConfigError

ORG_URN = "urn:li:organization:"
_VANITY = re.compile(r"[^\W_][\w.\-&']{0,99}")
_PAGE_KINDS = ("company", "school", "showcase")
COMMENT_URN = re.compile(r"^urn:li:comment:\((?P<activity>urn:li:[A-Za-z]+:[^,()]+),(?P<id>[^,()]+)\)$")


def _fail(raw: str, why: str) -> ConfigError:
    return ConfigError(
        f"'{raw}' is not a LinkedIn organization page ({why}); use the numeric organization id, "
        "urn:li:organization:<id> or https://www.linkedin.com/company/<name>/"
    )


def normalize_account_id(raw: str) -> str:
    value = raw.strip()
    if value.lower().startswith("urn:li:"):
        if not value.startswith(ORG_URN):
            raise _fail(raw, "only urn:li:organization URNs name an organization page")
        value = value[len(ORG_URN):]
        if not value.isdigit():
            raise _fail(raw, "the URN does not end in a numeric id")
        return value
    if "linkedin.com" in value.lower():
        url = value if "://" in value else f"https://{value}"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not (host == "linkedin.com" or host.endswith(".linkedin.com")):
            raise _fail(raw, "not a linkedin.com address")
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if len(segments) < 2 or segments[0].lower() not in _PAGE_KINDS:
            if segments and segments[0].lower() == "in":
                raise _fail(raw, "that is a personal profile; only organization pages can be archived")
            raise _fail(raw, "the URL names no company, school or showcase page")
        value = segments[1]
    if value.isdigit():
        return value
    vanity = value.lower()
    if not _VANITY.fullmatch(vanity):
        raise _fail(raw, "a page name has letters, digits and hyphens")
    return vanity


def quote_urn(urn: str) -> str:
    """URNs inside URL paths must be percent-encoded, parentheses and commas included."""
    return quote(urn, safe="")


def comment_parts(urn: str) -> tuple[str, str] | None:
    """(activity URN, comment id) of urn:li:comment:(urn:li:activity:A,B)."""
    match = COMMENT_URN.match(urn)
    return (match.group("activity"), match.group("id")) if match else None
