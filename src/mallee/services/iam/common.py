"""Shared IAM plumbing: ids, errors, validation, ARNs, pagination, policy documents."""

from __future__ import annotations

import base64
import re
import secrets
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mallee.api.errors import ServiceError
from mallee.policy import Policy, PolicyError, PolicyKind, parse_policy
from mallee.services import page_tokens

T = TypeVar("T")

ADMIN_USER = "admin"

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# ASCII, as IAM's Java pattern [\w+=,.@-]+ means: "jösé" is not a user name.
_NAME_RE = re.compile(r"^[\w+=,.@-]+$", re.ASCII)
_PATH_RE = re.compile(r"^/([\x21-\x7e]*/)?$")
_ACCOUNT_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

# Per-kind limits on a stored inline policy (characters, whitespace excluded), as IAM.
POLICY_SIZE = {"user": 2048, "group": 5120, "role": 10240, "managed": 6144, "account": 10240}


def new_id(prefix: str, length: int = 17) -> str:
    """AWS-style unique ids: AIDA.. (user), AGPA.. (group), AROA.. (role), AKIA.. (key)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_access_key_id(temporary: bool = False) -> str:
    return new_id("ASIA" if temporary else "AKIA", 16)


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# Errors -----------------------------------------------------------------------------------


def no_such_entity(message: str) -> ServiceError:
    return ServiceError("NoSuchEntity", message, 404)


def already_exists(message: str) -> ServiceError:
    return ServiceError("EntityAlreadyExists", message, 409)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceeded", message, 409)


def delete_conflict(message: str) -> ServiceError:
    return ServiceError("DeleteConflict", message, 409)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def invalid_input(message: str) -> ServiceError:
    return ServiceError("InvalidInput", message, 400)


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicyDocument", message, 400)


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


# ARNs -------------------------------------------------------------------------------------


def iam_arn(account_id: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def parse_arn(arn: str) -> tuple[str, str, str, str, str] | None:
    """(partition, service, region, account, resource) or None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[1], parts[2], parts[3], parts[4], parts[5]


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


def safe_policy(text: str | None, kind: PolicyKind = PolicyKind.IDENTITY) -> Policy | None:
    """A stored document, parsed; one that no longer parses grants nothing (never crashes)."""
    if not text:
        return None
    try:
        return parse_policy(text, kind)
    except PolicyError:
        return None


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
