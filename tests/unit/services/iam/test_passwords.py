"""Console password checks: the time they take does not tell whether the user exists."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from mallee.api.http import HttpRequest
from mallee.config import Settings
from mallee.gateway.chain import Chain
from mallee.identity import passwords
from mallee.services.base import Runtime
from mallee.store import Store

pytestmark = pytest.mark.nodb


def test_no_password_costs_one_hash_and_never_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = passwords.hash_password("Right-pass-1")
    calls: list[int] = []
    real = hashlib.scrypt

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(kwargs["n"])
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    assert passwords.verify_password(stored, "Right-pass-1")
    assert not passwords.verify_password(stored, "wrong")
    for guess in ("Right-pass-1", "", "anything"):
        assert not passwords.verify_password(None, guess)
    # The same work each time, with the cost real hashes have.
    assert calls == [int(stored.split("$")[1])] * 5


@pytest.mark.parametrize(
    ("body", "off_loop"),
    [
        ("Action=CreateLoginProfile&UserName=a&Password=p", True),
        ("Action=ChangePassword&OldPassword=a&NewPassword=b", True),
        ("Action=UpdateLoginProfile&UserName=a", True),
        ("Action=ListUsers", False),
        ("\xff\xfe", False),
    ],
)
def test_password_operations_leave_the_event_loop(body: str, off_loop: bool) -> None:
    """Hashing a password (scrypt) holds a core for tens of milliseconds: the operations that
    do are writes, which the server runs in worker threads."""
    request = HttpRequest(
        "POST",
        "/services/Euare",
        "",
        {"content-type": "application/x-www-form-urlencoded"},
        body=body.encode("latin-1"),
    )
    chain = Chain(Runtime(Settings(), Store("sqlite://")))
    routed = chain.routed(request)
    assert routed is not None
    assert chain.off_loop(*routed) is off_loop
