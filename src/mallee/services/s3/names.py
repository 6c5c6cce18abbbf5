"""Bucket names and keys: what S3 accepts, checked before anything is stored."""

from __future__ import annotations

import ipaddress
import re

from mallee.services.s3 import errors

_DNS = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# us-east-1's legacy rules (Eucalyptus' "extended"): letters, digits, '.', '-', '_'.
_EXTENDED = re.compile(r"[A-Za-z0-9._-]{1,255}")
MAX_KEY_BYTES = 1024
MAX_BUCKET_CHARS = 255


def prefix_matches_some(prefix: str, longest: int = MAX_KEY_BYTES) -> bool:
    """Whether a name of at most `longest` UTF-8 bytes can start with `prefix`. A longer one
    matches nothing and is kept out of SQL: SQLite refuses LIKE patterns past 50,000 bytes."""
    return len(prefix.encode("utf-8", "surrogatepass")) <= longest


def check_bucket_name(name: str, rules: str = "extended") -> str:
    if rules == "dns-compliant":
        ok = bool(_DNS.fullmatch(name)) and ".." not in name and not _is_ip(name)
        ok = ok and ".-" not in name and "-." not in name
    else:
        ok = bool(_EXTENDED.fullmatch(name)) and len(name) >= 3 and not _is_ip(name)
    if not ok:
        raise errors.invalid_bucket_name(name)
    return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def check_key(key: str) -> str:
    """Keys are any UTF-8 up to 1024 bytes; they are stored, never used as paths."""
    if not key:
        raise errors.invalid_argument("Key must not be empty")
    encoded = key.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_KEY_BYTES:
        raise errors.key_too_long(len(encoded), MAX_KEY_BYTES)
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as err:
        raise errors.invalid_argument("Key is not valid UTF-8") from err
    if "\x00" in key:
        # No database stores NUL in text, so such a key could never be read back.
        raise errors.invalid_argument("Key must not contain the NUL character")
    return key
