"""Console passwords, stored only as scrypt hashes: hashing one, and checking one at sign-in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt cost: 16 MiB and ~50 ms per hash; stored with the hash so it can be raised later.
_N, _R, _P = 2**14, 8, 1


def _stored(salt: bytes, digest: bytes) -> str:
    enc = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${enc(salt).decode()}${enc(digest).decode()}"


# What a sign-in for no password (no such account or user, no login profile) is checked
# against: the same scrypt work as a real check, so the time taken does not tell whether the
# user exists; its digest is random, so no password matches it.
_DECOY = _stored(secrets.token_bytes(16), secrets.token_bytes(32))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return _stored(salt, hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` was made from; None (there is no password to
    check) costs the same time and is False."""
    if stored is None:
        _verify(_DECOY, password)
        return False
    return _verify(stored, password)


def _verify(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, want)
