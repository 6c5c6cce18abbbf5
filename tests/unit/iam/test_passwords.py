"""Console password checks: the time they take does not tell whether the user exists."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from mallee.api.http import HttpRequest
from mallee.services.iam import passwords

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
    ("body", "hashes"),
    [
        ("Action=CreateLoginProfile&UserName=a&Password=p", True),
        ("Action=ChangePassword&OldPassword=a&NewPassword=b", True),
        ("Action=UpdateLoginProfile&UserName=a", True),
        ("Action=ListUsers", False),
        ("\xff\xfe", False),
    ],
)
def test_password_operations_leave_the_event_loop(body: str, hashes: bool) -> None:
    request = HttpRequest(
        "POST",
        "/",
        "",
        {"content-type": "application/x-www-form-urlencoded"},
        body=body.encode("latin-1"),
    )
    assert passwords.hashes(request) is hashes
