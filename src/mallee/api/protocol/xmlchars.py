"""The characters XML 1.0 can carry: input holding others is refused, output never holds them.

XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]; not even
a character reference may name anything else, so a single U+0001 stored in a tag would make
every later answer that lists it unparseable for every client.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

# The complement of XML 1.0's Char production (lone surrogates included: they cannot even be
# encoded as UTF-8).
FORBIDDEN = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_FORBIDDEN_RE = re.compile(f"[{FORBIDDEN}]")
# How AWS models word the same rule where a member declares it.
PATTERN = "[\\u0009\\u000A\\u000D\\u0020-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]*"
CONSTRAINT = f"Member must satisfy regular expression pattern: {PATTERN}"
REPLACEMENT = "\ufffd"


def carries(text: str) -> bool:
    """Whether XML 1.0 can carry every character of `text`."""
    return _FORBIDDEN_RE.search(text) is None


def visible(text: str) -> str:
    """`text` with each forbidden character spelt as \\uXXXX, for echoing it in a message."""
    return _FORBIDDEN_RE.sub(lambda m: f"\\u{ord(m.group()):04X}", text)


def scrub(text: str) -> str:
    """`text` with each forbidden character replaced by U+FFFD.

    The last line of defence for values stored before input was checked: an answer with a
    replaced character still parses, one with the raw character fails for the whole listing.
    """
    cleaned, count = _FORBIDDEN_RE.subn(REPLACEMENT, text)
    if count:
        log.warning(
            "replaced %d character(s) XML 1.0 cannot carry in an answer: %r", count, text[:80]
        )
    return cleaned
