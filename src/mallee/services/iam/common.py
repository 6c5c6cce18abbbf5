"""Shared IAM plumbing: validation of names and paths, policy documents, pagination."""

from __future__ import annotations

import re
import secrets
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mallee.policy import PolicyError, PolicyKind, parse_policy
from mallee.services import page_tokens
from mallee.services.iam.errors import limit_exceeded, malformed, validation

T = TypeVar("T")

# ASCII, as IAM's Java pattern [\w+=,.@-]+ means: "jösé" is not a user name.
_NAME_RE = re.compile(r"^[\w+=,.@-]+$", re.ASCII)
_PATH_RE = re.compile(r"^/([\x21-\x7e]*/)?$")
_ACCOUNT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

# Per-kind limits on a stored inline policy (characters, whitespace excluded), as IAM.
POLICY_SIZE = {"user": 2048, "group": 5120, "role": 10240, "managed": 6144, "account": 10240}


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


# Validation -------------------------------------------------------------------------------


def check_name(value: Any, field: str, max_len: int = 64) -> str:
    if not isinstance(value, str) or not value:
        raise validation(f"The specified value for {field} is invalid. It must not be empty.")
    if len(value) > max_len or not _NAME_RE.fullmatch(value):
        raise validation(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ "
            f"and have length less than or equal to {max_len}"
        )
    return value


def check_path(value: Any, field: str = "path") -> str:
    if value is None:
        return "/"
    if not isinstance(value, str) or len(value) > 512 or not _PATH_RE.fullmatch(value):
        raise validation(
            f"The specified value for {field} is invalid. It must begin and end with / and "
            "contain only alphanumeric characters and/or / characters."
        )
    return value


def check_account_name(value: Any) -> str:
    if not isinstance(value, str) or not _ACCOUNT_NAME_RE.fullmatch(value):
        raise validation(
            f"Invalid account name {value!r}: use 1-63 lower-case letters, digits and hyphens, "
            "not starting or ending with a hyphen."
        )
    if value.isdigit() and len(value) == 12:
        raise validation("An account name must not look like an account id.")
    return value


def check_path_prefix(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 512:
        raise validation("The specified value for pathPrefix is invalid. It must begin with /.")
    return value


def check_description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 1000:
        raise validation("Description must be a string of at most 1000 characters.")
    return value


# Policy documents -------------------------------------------------------------------------


def decode_document(value: Any) -> str:
    """Clients may send a URL-encoded document (old tools do); JSON never starts with '%'."""
    if not isinstance(value, str):
        raise malformed("Syntax errors in policy.")
    text = value.strip()
    if text.startswith("%"):
        text = urllib.parse.unquote(text)
    return text


def validate_document(value: Any, kind: PolicyKind, size_kind: str, owner: str) -> str:
    text = decode_document(value)
    if len("".join(text.split())) > POLICY_SIZE[size_kind]:
        raise limit_exceeded(
            f"Maximum policy size of {POLICY_SIZE[size_kind]} bytes exceeded for {owner}"
        )
    try:
        parse_policy(text, kind)
    except PolicyError as err:
        raise malformed(err.message) from err
    return text


def encode_document(text: str) -> str:
    """IAM returns documents URL-encoded; botocore and the CLI decode them."""
    return urllib.parse.quote(text, safe="")


# Pagination -------------------------------------------------------------------------------


def max_items(params: dict[str, Any]) -> int:
    value = params.get("MaxItems")
    if value is None:
        return 100
    if not isinstance(value, int) or not 1 <= value <= 1000:
        raise validation(
            f"1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy "
            "constraint: Member must have value between 1 and 1000"
        )
    return value


def _decode_marker(marker: str) -> str:
    key = page_tokens.decode(marker)
    if key is None:
        raise validation("Invalid Marker.")
    return key


def paginate(
    s: Session,
    stmt: Select[T],
    key: InstrumentedAttribute[str],
    params: dict[str, Any],
) -> tuple[Sequence[T], dict[str, Any]]:
    """One page of `stmt` ordered by the unique column `key`; the marker is the next key."""
    limit = max_items(params)
    marker = params.get("Marker")
    if marker:
        stmt = stmt.where(key >= _decode_marker(str(marker)))
    rows = s.scalars(stmt.order_by(key).limit(limit + 1)).all()
    page: dict[str, Any] = {"IsTruncated": len(rows) > limit}
    if len(rows) > limit:
        nxt = getattr(rows[limit], key.key)
        page["Marker"] = page_tokens.encode(str(nxt))
    return rows[:limit], page


def paginate_list(
    items: Sequence[T], params: dict[str, Any], key: Callable[[T], str]
) -> tuple[Sequence[T], dict[str, Any]]:
    """The same, over an in-memory list already sorted by `key`."""
    limit = max_items(params)
    marker = params.get("Marker")
    if marker:
        start = _decode_marker(str(marker))
        items = [i for i in items if key(i) >= start]
    page: dict[str, Any] = {"IsTruncated": len(items) > limit}
    if len(items) > limit:
        page["Marker"] = page_tokens.encode(key(items[limit]))
    return items[:limit], page
