"""Safe XML input (defusedxml, size and depth caps) and fast escaping for XML output.

Escaping also replaces what XML 1.0 cannot carry (see xmlchars): output must always parse.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from mallee.api.protocol.xmlchars import FORBIDDEN, scrub

# Far above any legitimate request document (S3 DeleteObjects with 1000 keys is ~100 KiB).
MAX_XML_BYTES = 16 * 1024 * 1024
MAX_XML_DEPTH = 64


class XmlRejected(Exception):
    """The body is not acceptable XML; the message says why."""


class _DepthLimitedBuilder(TreeBuilder):
    def __init__(self, max_depth: int) -> None:
        super().__init__()
        self._depth = 0
        self._max_depth = max_depth

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        if self._depth > self._max_depth:
            raise XmlRejected("XML nesting is too deep")
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return super().end(tag)


def parse_xml(body: bytes, max_depth: int = MAX_XML_DEPTH) -> Element:
    """Parse an untrusted document: no DTDs, no entities, bounded size and depth."""
    if len(body) > MAX_XML_BYTES:
        raise XmlRejected("XML document is too large")
    parser = DefusedXMLParser(
        target=_DepthLimitedBuilder(max_depth),
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    try:
        parser.feed(body)
        root: Element = parser.close()
    except XmlRejected:
        raise
    # LookupError: expat looks up the codec an XML declaration names (encoding="bogus").
    except (
        ParseError,
        DefusedXmlException,
        ValueError,
        UnicodeError,
        LookupError,
        RecursionError,
    ) as exc:
        raise XmlRejected(str(exc) or type(exc).__name__) from exc
    return root


def local_name(tag: str) -> str:
    """Tag without its '{namespace}' part: clients may or may not send xmlns."""
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\r": "&#13;",
        "\n": "&#10;",
        "\t": "&#9;",
    }
)


_TEXT_SPECIAL = re.compile(f"[&<>\r{FORBIDDEN}]")


def escape_text(text: str) -> str:
    # Hot path (every value of a 50,000-element answer): printable ASCII, which holds nothing
    # to replace, is recognised by two C scans; anything else takes the regex.
    if text.isascii() and text.isprintable():
        if "&" in text or "<" in text or ">" in text:
            return text.translate(_TEXT_ESCAPES)
        return text
    if _TEXT_SPECIAL.search(text) is None:
        return text
    return scrub(text).translate(_TEXT_ESCAPES)


def escape_attr(text: str) -> str:
    return scrub(text).translate(_ATTR_ESCAPES)
