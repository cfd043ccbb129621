from connectors.bluesky.connector import BlueskyConnector

__all__ = ["BlueskyConnector"]
