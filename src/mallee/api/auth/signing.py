"""HMAC primitives shared by the SigV4 verifier and the chunk verifier.

The signing key depends only on (secret, date, region, service), so it is derived once per day
per key and service instead of four HMACs on every request.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@lru_cache(maxsize=4096)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k_date = hmac.digest(("AWS4" + secret).encode(), date.encode(), "sha256")
    k_region = hmac.digest(k_date, region.encode(), "sha256")
    k_service = hmac.digest(k_region, service.encode(), "sha256")
    return hmac.digest(k_service, TERMINATOR.encode(), "sha256")


def sign_hex(key: bytes, message: str) -> str:
    return hmac.digest(key, message.encode(), "sha256").hex()


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{sha256_hex(canonical_request)}"


def same(expected: str, provided: str) -> bool:
    """Constant-time comparison, safe for non-ASCII input (which then never matches)."""
    return hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace"))
