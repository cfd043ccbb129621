"""Instagram professional accounts (Graph API, Instagram API with Facebook Login)."""

from __future__ import annotations

from connectors.instagram.connector import InstagramConnector

__all__ = ["InstagramConnector"]
