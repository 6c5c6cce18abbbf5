"""Sealed console sessions and the shared key file."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mallee.console.session import Sealer, Session
from mallee.sealing_key import KEY_FILE, load_key

pytestmark = pytest.mark.nodb


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    sealer = Sealer(load_key(tmp_path))
    session = Session(
        account="demo",
        user="admin",
        access_key="ASIAEXAMPLE",
        secret_key="secret/+=",
        session_token="token",
        expires=time.time() + 60,
        flash=[("ok", "<b>done</b>")],
    )
    token = sealer.seal(session)
    assert "secret" not in token and "ASIA" not in token  # sealed, not just signed
    assert sealer.open(token) == session


@pytest.mark.parametrize("token", [None, "", "garbage", "gAAAAA" + "A" * 100])
def test_missing_or_garbage_is_no_session(tmp_path: Path, token: str | None) -> None:
    assert Sealer(load_key(tmp_path)).open(token) is None


def test_altered_or_foreign_tokens_are_refused(tmp_path: Path) -> None:
    sealer = Sealer(load_key(tmp_path))
    token = sealer.seal(Session(access_key="A"))
    flipped = token[:20] + ("B" if token[20] != "B" else "C") + token[21:]
    assert sealer.open(flipped) is None
    other = Sealer(Fernet.generate_key()).seal(Session(access_key="A"))
    assert sealer.open(other) is None


def test_sealed_non_session_is_refused(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    fernet = Fernet(key)
    for payload in (b"[1, 2]", b'{"unknown": 1}', b"not json"):
        assert Sealer(key).open(fernet.encrypt(payload).decode()) is None


def test_expiry_and_admin(tmp_path: Path) -> None:
    assert not Session().signed_in and not Session().expired
    assert Session(access_key="A", expires=time.time() - 1).expired
    assert not Session(access_key="A", expires=time.time() + 60).expired
    # By the rights the cloud reported at sign-in, whatever the account's name.
    assert Session(access_key="A", account="demo", admin=True).is_cloud_admin
    assert not Session(access_key="A", account="eucalyptus").is_cloud_admin
    assert not Session(account="eucalyptus", admin=True).is_cloud_admin  # not signed in


def test_key_file_is_private_and_stable(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600
    assert load_key(tmp_path) == key
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_key(tmp_path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1


def test_a_broken_key_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("short\n")
    with pytest.raises(ValueError):
        load_key(tmp_path)
