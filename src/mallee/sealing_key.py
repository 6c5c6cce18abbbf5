"""The key the console seals its cookies with, and from which the sign-in source is vouched
for: one file in the data directory, shared by every api process of the cloud.

Below both the console and the services (STS checks what the console vouches for with it), so
neither imports the other.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

KEY_FILE = "console.key"


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
