"""Reading untrusted JSON without trusting its shape: a value of the wrong type reads as empty.

Connectors walk platform JSON whose field types can change without notice; these helpers
narrow a value to what the code expects (for mypy, too) instead of crashing on it.
"""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None
