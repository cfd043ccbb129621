"""The sandbox kit: what fake platforms served over real HTTP on 127.0.0.1 are built from.

Each platform's fake lives beside its connector (`connectors/<platform>/sandbox.py`); the demo
and the tests load it through `connectors.load_sandbox`. Like archiver/core, this package sits
below the connectors and imports nothing from storage or the catalog.
"""
