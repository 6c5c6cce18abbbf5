"""Listing prefixes no name can start with are answered without asking the database."""

from __future__ import annotations

import pytest

from mallee.services.s3.names import MAX_BUCKET_CHARS, MAX_KEY_BYTES, prefix_matches_some

pytestmark = pytest.mark.nodb


def test_prefixes_up_to_the_longest_name_may_match() -> None:
    assert prefix_matches_some("")
    assert prefix_matches_some("a" * MAX_KEY_BYTES)
    assert prefix_matches_some("é" * (MAX_KEY_BYTES // 2))  # two UTF-8 bytes each


def test_longer_prefixes_match_nothing() -> None:
    assert not prefix_matches_some("a" * (MAX_KEY_BYTES + 1))
    assert not prefix_matches_some("é" * (MAX_KEY_BYTES // 2 + 1))
    # Past SQLite's 50,000-byte LIKE pattern limit, which made the listing a 500.
    assert not prefix_matches_some("a" * 60_000)
    assert not prefix_matches_some("b" * (MAX_BUCKET_CHARS + 1), MAX_BUCKET_CHARS)
