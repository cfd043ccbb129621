"""XML parsing that cannot expand entities or fetch anything.

defusedxml is not a dependency of this project, so this builds the ElementTree itself from
pyexpat with every door closed: a DOCTYPE with an internal subset (where entity
declarations live: billion laughs, quadratic blowup, external entities) is refused outright,
parameter entities are never parsed, and an external entity reference aborts the parse.
Only the five predefined XML entities and character references are ever expanded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from xml.parsers import expat

MAX_BYTES = 20_000_000


class UnsafeXml(ValueError):
    """The document tried something a feed never needs (entities, external references)."""


def _forbid(what: str) -> Any:
    def handler(*_args: object) -> None:
        raise UnsafeXml(f"{what} are not allowed in a feed")

    return handler


def _name(raw: str) -> str:
    namespace, sep, local = raw.rpartition(" ")
    return f"{{{namespace}}}{local}" if sep else raw


def fromstring(data: bytes) -> ET.Element:
    """Parse a feed; raises UnsafeXml for dangerous constructs and ValueError for broken XML."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"document larger than {MAX_BYTES} bytes")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def start_doctype(_name: str, _sysid: str | None, _pubid: str | None, internal_subset: int) -> None:
        if internal_subset:
            raise UnsafeXml("a DOCTYPE with an internal subset (entity declarations) is not allowed in a feed")

    def start(name: str, attrs: dict[str, str]) -> None:
        builder.start(_name(name), {_name(k): v for k, v in attrs.items()})

    def end(name: str) -> None:
        builder.end(_name(name))

    parser.StartDoctypeDeclHandler = start_doctype
    parser.EntityDeclHandler = _forbid("entity declarations")
    parser.UnparsedEntityDeclHandler = _forbid("unparsed entity declarations")
    parser.ExternalEntityRefHandler = _forbid("external entity references")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    except LookupError as exc:  # an XML declaration naming an encoding Python does not know
        raise ValueError(f"unreadable XML: {exc}") from None
    root = builder.close()
    if root is None:
        raise ValueError("empty XML document")
    return root
