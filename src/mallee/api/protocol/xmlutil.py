"""Safe XML input (defusedxml, size and depth caps) and fast escaping for XML output."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

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
    except (ParseError, DefusedXmlException, ValueError, UnicodeError, RecursionError) as exc:
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


def escape_text(text: str) -> str:
    return text.translate(_TEXT_ESCAPES)


def escape_attr(text: str) -> str:
    return text.translate(_ATTR_ESCAPES)
