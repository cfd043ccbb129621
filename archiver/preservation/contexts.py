"""The encryption context that binds each stored object's data key to that object.

Its own module so that reading an object (fixity, `warc cat`, `items show` media) does not
import the outbox, which imports the indexer and the retention rules (0.5 s of start-up).
"""

from __future__ import annotations


def vault_context(name: str) -> dict[str, str]:
    """Binds a data key to one object: a wrapped key moved to another object will not open."""
    return {"archiver-object": name}
