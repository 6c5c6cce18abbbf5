"""Browser sessions: the signed-in user's temporary credentials, sealed into a cookie.

The cookie is the whole session (nothing is stored server-side), so any api process behind a
load balancer serves any request. It is sealed with Fernet (AES-CBC + HMAC-SHA256): the browser
can neither read the secret key inside nor forge or alter a session.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "mallee_console"
# Fernet's own age limit, a ceiling above the credentials' expiry (GetAccessToken gives at most
# 12 hours): an old cookie is refused even if its contents were somehow to claim more.
MAX_AGE = 13 * 3600


@dataclass
class Session:
    """What a browser's cookie holds. Anonymous (no credentials) before signing in: it still
    carries a CSRF token, so the sign-in form itself is protected."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    account: str = ""
    user: str = ""
    access_key: str = ""
    secret_key: str = ""
    session_token: str = ""
    # When the credentials expire (epoch seconds).
    expires: float = 0.0
    # What the cloud let these credentials do when they were issued (asked at sign-in, sealed
    # with the rest): administer the cloud (Empyrean answers), administer the account's IAM.
    admin: bool = False
    iam_admin: bool = False
    # Messages for the next page shown: (kind, text), kind "ok" or "error" (or "error <path>":
    # the error of the form that posts to <path>).
    flash: list[tuple[str, str]] = field(default_factory=list)

    @property
    def signed_in(self) -> bool:
        return bool(self.access_key)

    @property
    def expired(self) -> bool:
        return self.signed_in and time.time() >= self.expires

    @property
    def is_cloud_admin(self) -> bool:
        # By the rights the cloud reported at sign-in, not by the account name typed there.
        return self.signed_in and self.admin


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, session: Session) -> str:
        # Without base64's padding: "=" would make the cookie's value a quoted string, which
        # not every client gives back as it was sent.
        token = self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode("ascii")
        return token.rstrip("=")

    def open(self, token: str | None) -> Session | None:
        """The session in `token`, or None when it is missing, forged, altered or too old."""
        if not token:
            return None
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(self._fernet.decrypt(padded.encode("ascii"), ttl=MAX_AGE))
            if not isinstance(data, dict):
                return None
            flash = [(str(kind), str(text)) for kind, text in data.pop("flash", [])]
            return Session(**data, flash=flash)
        except (InvalidToken, UnicodeError, ValueError, TypeError):
            return None
