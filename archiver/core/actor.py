"""Who is acting: every audit entry names a person, not a process."""

from __future__ import annotations

import getpass
import os


def current_actor() -> str:
    """ARCHIVER_ACTOR when set (a shared service account names the officer), else the login name."""
    named = os.environ.get("ARCHIVER_ACTOR", "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return f"uid:{os.getuid()}"
