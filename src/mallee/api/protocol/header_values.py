"""Response headers the HTTP server can write, whatever a stored value holds.

Header values come from what callers stored (object metadata and content types set by browser
POST forms, CORS rules): a CR/LF there must never end a header and start another of the
caller's choosing, and a character latin-1 cannot carry must not fail the answer.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

# What the server refuses to write (uvicorn, as RFC 9110): control characters but tab in a
# value, or anything latin-1, the wire encoding of headers, cannot carry; in a name, anything
# but token characters.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN_PUNCTUATION = "!#$%&'*+-.^_`|~"


def sendable_value(value: str) -> str:
    """`value`, or when a header cannot carry it, its RFC 2047 form (=?UTF-8?B?...?=), as S3
    returns user metadata that is not plain text."""
    if _BAD_VALUE.search(value) is None:
        return value
    encoded = base64.b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")
    return f"=?UTF-8?B?{encoded}?="


def sendable_name(name: str) -> str:
    """`name`, or with what a token cannot hold percent-encoded."""
    return name if _TOKEN.fullmatch(name) else quote(name, safe=_TOKEN_PUNCTUATION) or "-"


def sendable(headers: dict[str, str]) -> dict[str, str]:
    """`headers` as the server can write them (the same dict when they already are)."""
    if all(_TOKEN.fullmatch(k) and _BAD_VALUE.search(v) is None for k, v in headers.items()):
        return headers
    return {sendable_name(k): sendable_value(v) for k, v in headers.items()}
