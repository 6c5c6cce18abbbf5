"""The browser address the console vouches for at sign-in, and what STS makes of the header."""

from __future__ import annotations

from pathlib import Path

import pytest

from mallee.api.http import HttpRequest
from mallee.sealing_key import load_key
from mallee.sign_in_source import HEADER, source_address, vouch

pytestmark = pytest.mark.nodb

BASIC = "Basic dXNlckBhY2N0OnB3"


def sign_in(headers: dict[str, str]) -> HttpRequest:
    return HttpRequest("POST", "/", "", headers, remote_addr="127.0.0.1")


def test_the_console_vouches_for_the_browser(tmp_path: Path) -> None:
    named = vouch(load_key(tmp_path), "203.0.113.9", BASIC)
    request = sign_in({"authorization": BASIC, HEADER: named})
    assert source_address(request, tmp_path) == "203.0.113.9"


def test_anyone_elses_header_changes_nothing(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    other = tmp_path / "other"
    forged = [
        "203.0.113.9",
        f"203.0.113.9 {'0' * 64}",
        # Vouched for another sign-in (other credentials), or with another cloud's key.
        vouch(key, "203.0.113.9", "Basic b3RoZXI="),
        vouch(load_key(other), "203.0.113.9", BASIC),
        "203.0.113.9 \u00e9\u00e9",
    ]
    for value in forged:
        request = sign_in({"authorization": BASIC, HEADER: value})
        assert source_address(request, tmp_path) == "127.0.0.1", value


def test_no_console_key_no_vouching(tmp_path: Path) -> None:
    named = vouch(load_key(tmp_path / "elsewhere"), "203.0.113.9", BASIC)
    request = sign_in({"authorization": BASIC, HEADER: named})
    assert source_address(request, tmp_path) == "127.0.0.1"
    assert not (tmp_path / "console.key").exists()
    assert source_address(sign_in({"authorization": BASIC}), tmp_path) == "127.0.0.1"
