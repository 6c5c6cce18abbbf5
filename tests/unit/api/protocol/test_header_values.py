"""Response headers are always ones the server can write, whatever a stored value holds."""

from __future__ import annotations

import base64

from mallee.api.protocol.header_values import sendable, sendable_name, sendable_value


def test_writable_values_are_kept_as_they_are() -> None:
    for value in ("", "text/plain", "a\tb", "é latin-1", "=?UTF-8?B?eA==?="):
        assert sendable_value(value) is value


def test_unwritable_values_go_out_rfc2047_encoded() -> None:
    for value in ("a\r\nSet-Cookie: x=y", "text/€", "x\x01y", "\x7f"):
        encoded = sendable_value(value)
        assert encoded.startswith("=?UTF-8?B?") and encoded.endswith("?=")
        assert base64.b64decode(encoded[10:-2]).decode() == value


def test_names_that_are_not_tokens_are_percent_encoded() -> None:
    assert sendable_name("x-amz-meta-ok") == "x-amz-meta-ok"
    assert sendable_name("x-amz-meta-a b:c\r") == "x-amz-meta-a%20b%3Ac%0D"
    assert sendable_name("") == "-"


def test_headers_are_the_same_dict_when_nothing_needs_changing() -> None:
    fine = {"Content-Type": "text/xml", "ETag": '"abc"'}
    assert sendable(fine) is fine
    fixed = sendable({"ETag": '"abc"', "x-amz-meta-a": "1\n2"})
    assert fixed == {"ETag": '"abc"', "x-amz-meta-a": "=?UTF-8?B?MQoy?="}
