"""parse_form answers what urllib's parse_qsl answers; a request's form is parsed once."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl

import pytest

from mallee.api.http import HttpRequest, parse_form

CASES = [
    "",
    "a=1&b=2",
    "a",
    "=x",
    "a=&b",
    "&&a=1&&",
    "a%20b=c+d",
    "x=%E2%82%AC&y=%ff%fe",
    "a=b=c",
    "k=%zz&%=1",
    "+=+",
    "a;b=c&d=e",
    "t=2026-12-07T16%3A00%3A00Z",
    # %25 decodes to "%", which must not start a second escape.
    "x=%253A",
    "x=%3%3AA",
    "x=%2B%2b+%20",
    "x=%3a%2f",
]


@pytest.mark.parametrize("text", CASES)
def test_parse_form_is_parse_qsl(text: str) -> None:
    assert parse_form(text) == parse_qsl(text, keep_blank_values=True)


def test_parse_form_is_parse_qsl_on_random_forms() -> None:
    rng = random.Random(7)
    alphabet = "ab=&%+;2F3AC05e"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert parse_form(text) == parse_qsl(text, keep_blank_values=True), text


def test_the_form_is_parsed_once_and_copies_share_it() -> None:
    request = HttpRequest("POST", "/", "Action=Query", {}, b"Version=1&Action=Body")
    form = request.form_params()
    assert form == {"Action": "Body", "Version": "1"}
    assert request.form_params() is form
    assert request.copy().form_params() is form


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(UnicodeDecodeError):
        HttpRequest("POST", "/", "", {}, b"Action=\xff").form_params()
