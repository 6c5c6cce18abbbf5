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
    # Messages for the next page shown: (kind, text), kind "ok" or "error".
    flash: list[tuple[str, str]] = field(default_factory=list)

    @property
    def signed_in(self) -> bool:
        return bool(self.access_key)

    @property
    def expired(self) -> bool:
        return self.signed_in and time.time() >= self.expires

    @property
    def is_cloud_admin(self) -> bool:
        # Eucalyptus: the `eucalyptus` account administers the cloud.
        return self.signed_in and self.account == "eucalyptus"


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, session: Session) -> str:
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode("ascii")

    def open(self, token: str | None) -> Session | None:
        """The session in `token`, or None when it is missing, forged, altered or too old."""
        if not token:
            return None
        try:
            data = json.loads(self._fernet.decrypt(token.encode("ascii"), ttl=MAX_AGE))
            if not isinstance(data, dict):
                return None
            flash = [(str(kind), str(text)) for kind, text in data.pop("flash", [])]
            return Session(**data, flash=flash)
        except (InvalidToken, UnicodeError, ValueError, TypeError):
            return None
