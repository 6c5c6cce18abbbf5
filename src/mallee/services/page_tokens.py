"""Opaque pagination tokens (EC2 NextToken, IAM Marker, S3 ContinuationToken).

A token carries the last key a page returned, so the next page starts after that key wherever it
now is. The key travels with a short digest of itself: a token this cloud did not issue (garbage,
truncated, edited) is refused, as AWS refuses it, instead of being read as some other key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

_DIGEST_BYTES = 6


def _digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=_DIGEST_BYTES, person=b"mallee-page").digest()


def encode(key: str) -> str:
    raw = key.encode("utf-8")
    return base64.urlsafe_b64encode(raw + _digest(raw)).decode("ascii")


def decode(token: str) -> str | None:
    """The key `token` carries, or None when this cloud did not issue it."""
    try:
        data = base64.b64decode(token, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    raw, digest = data[:-_DIGEST_BYTES], data[-_DIGEST_BYTES:]
    if len(data) < _DIGEST_BYTES or digest != _digest(raw):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
