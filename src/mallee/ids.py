"""AWS/Eucalyptus-style resource ids: a prefix, a dash and lower-case hex."""

from __future__ import annotations

import re
import secrets

# Image ids keep Eucalyptus' 8 hex digits (emi-/eki-/eri-); everything else uses AWS's 17.
_SHORT = frozenset({"emi", "eki", "eri"})


def new_id(prefix: str) -> str:
    digits = 8 if prefix in _SHORT else 17
    return f"{prefix}-{secrets.token_hex(9)[:digits]}"


def is_id(value: str, prefix: str) -> bool:
    """Well formed for `prefix` (8 or 17 hex digits, as AWS accepts both lengths)."""
    return re.fullmatch(rf"{re.escape(prefix)}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})", value) is not None
