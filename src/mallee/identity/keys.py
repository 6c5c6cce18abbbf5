"""New ids and secrets: entity ids (AIDA.., AROA..), access key ids and secret keys."""

from __future__ import annotations

import base64
import secrets

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_id(prefix: str, length: int = 17) -> str:
    """AWS-style unique ids: AIDA.. (user), AGPA.. (group), AROA.. (role), AKIA.. (key)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_access_key_id(temporary: bool = False) -> str:
    return new_id("ASIA" if temporary else "AKIA", 16)


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()
