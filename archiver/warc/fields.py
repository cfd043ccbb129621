"""Names the archiver writes into WARC headers and warc-fields bodies.

Kept in one module of the WARC layer so that the capture side (which writes them) and the
catalog indexer (which reads them back on rebuild) cannot drift apart.
"""

from __future__ import annotations

INFO_PLATFORM = "archiver-platform"
INFO_ACCOUNT = "archiver-account"
INFO_ACCOUNT_NAME = "archiver-account-name"
INFO_ROLE = "archiver-account-role"
INFO_API_BASE = "archiver-api-base"
INFO_RUN = "archiver-run"
INFO_DISTRICT = "archiver-district"
INFO_REDACTION = "archiver-redaction-policy"
PURPOSE_HEADER = "X-Archiver-Purpose"
REDACTION_HEADER = "X-Archiver-Redaction"
OBSERVATION = "archiver-observation"

# What capture/session.py and capture/redact.py do: the Authorization header is not recorded;
# cookie, API-key and token headers and access_token-like parameters read REDACTED.
REDACTION_POLICY = (
    "Authorization header not recorded; cookie, API-key and token headers and access_token-like "
    "URL parameters (in URIs and bodies) read REDACTED; X-Archiver-Redaction marks a changed body"
)


def location(filename: str, offset: int, length: int) -> str:
    return f"{filename}#{offset}+{length}"


def split_location(value: str) -> tuple[str, int, int]:
    if "#" not in value:
        return "", 0, 0
    name, rest = value.rsplit("#", 1)
    offset, _, length = rest.partition("+")
    return name, int(offset or 0), int(length or 0)
