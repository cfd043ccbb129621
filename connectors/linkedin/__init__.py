"""LinkedIn organization pages (Community Management API, versioned REST)."""

from __future__ import annotations

from connectors.linkedin.connector import LinkedInConnector

__all__ = ["LinkedInConnector"]
