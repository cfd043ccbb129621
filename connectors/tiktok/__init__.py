"""TikTok accounts (Display API v2: the token owner's own videos; no comments)."""

from __future__ import annotations

from connectors.tiktok.connector import TikTokConnector

__all__ = ["TikTokConnector"]
