"""Threads accounts (Meta's Threads API at graph.threads.net)."""

from __future__ import annotations

from connectors.threads.connector import ThreadsConnector

__all__ = ["ThreadsConnector"]
