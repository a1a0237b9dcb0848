"""S3's REST-XML wire helpers: parse request XML safely, build XML answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from kmslab.cloud.gateway.request import Outgoing
from kmslab.cloud.s3.errors import malformed_xml

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_CONFIG_BYTES = 1024 * 1024


def xml(body: bytes) -> ET.Element:
    """Parse a request's XML body (entities and DTDs refused), with namespaces dropped from tags.

    Args:
        body: the body.

    Returns:
        The root element.

    Raises:
        CloudError: MalformedXML.
    """
    try:
        root = SafeET.fromstring(body)
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise malformed_xml() from None
    for element in root.iter():
        if "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root  # type: ignore[no-any-return]


def text(root: ET.Element, path: str) -> str | None:
    """The stripped text of the element at ``path``, or None.

    Args:
        root: the element to search under.
        path: an ElementTree path.

    Returns:
        The text, or None.
    """
    found = root.find(path)
    return found.text.strip() if found is not None and found.text else None


def ok(body: str = "", status: int = 200, headers: list[tuple[str, str]] | None = None) -> Outgoing:
    """An S3 success answer with an optional XML body.

    Args:
        body: the XML (without declaration), or "".
        status: the HTTP status.
        headers: more headers.

    Returns:
        The answer.
    """
    raw = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode() if body else b""
    out = [("Content-Type", "application/xml"), ("Content-Length", str(len(raw))), *(headers or [])]
    return Outgoing(status, out, raw)
