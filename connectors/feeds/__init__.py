from connectors.feeds.connector import FeedsConnector

__all__ = ["FeedsConnector"]
