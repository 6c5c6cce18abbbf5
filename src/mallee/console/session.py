"""Browser sessions: the signed-in user's temporary credentials, sealed into a cookie.

The cookie is the whole session (nothing is stored server-side), so any api process behind a
load balancer serves any request. It is sealed with Fernet (AES-CBC + HMAC-SHA256): the browser
can neither read the secret key inside nor forge or alter a session.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "mallee_console"
KEY_FILE = "console.key"
# Fernet's own age limit, a ceiling above the credentials' expiry (GetAccessToken gives at most
# 12 hours): an old cookie is refused even if its contents were somehow to claim more.
MAX_AGE = 13 * 3600


def load_key(data_dir: Path) -> bytes:
    """The sealing key every api process of this cloud shares, made on first use.

    It lives in the data dir because that is what the api processes of a cloud already share
    (the database in SQLite mode, the object data); a key in the database would be readable by
    anyone with a DB dump, a random key per process would log users out whenever a load
    balancer picks another process. The file is written whole under a temporary name and
    hard-linked into place: link(2) fails if the name exists, so two processes starting at once
    agree on one key (the loser reads the winner's), and no reader ever sees half a key.
    """
    path = data_dir / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    temp = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, Fernet.generate_key() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(base64.urlsafe_b64decode(key)) != 32:
        raise ValueError(f"{path} does not hold a console key (32 bytes, base64)")
    return key


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
