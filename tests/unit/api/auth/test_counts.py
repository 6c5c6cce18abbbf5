"""Decimal counts in signature parameters (X-Amz-Expires, Expires, decoded lengths)."""

from __future__ import annotations

from mallee.api.auth.common import BEYOND, parse_count


def test_ascii_decimals_are_read() -> None:
    assert parse_count("0") == 0
    assert parse_count("604800") == 604800
    assert parse_count("000012") == 12


def test_what_is_not_an_ascii_decimal_is_none() -> None:
    # str.isdigit() takes the first three, which int() refuses.
    for text in ("²", "٣", "\uff11", "", " 1", "1 ", "-1", "+1", "1.0", "0x10", "1_000"):
        assert parse_count(text) is None, text


def test_numbers_past_int_parsing_limits_read_as_beyond() -> None:
    assert parse_count("9" * 5000) == BEYOND  # int() refuses past 4300 digits
    assert parse_count(str(BEYOND * 10)) == BEYOND
    assert parse_count("0" * 5000 + "7") == 7
