"""MaxResults/NextToken: tokens survive changes, bad input gets AWS's codes."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.api.errors import ServiceError
from mallee.services.ec2.pagination import encode_token, page


def collect(items: list[str], size: int, **extra: Any) -> list[list[str]]:
    pages, token = [], None
    while True:
        params: dict[str, Any] = {"MaxResults": size, **({"NextToken": token} if token else {})}
        chunk, token = page(items, params, key=str, **extra)
        pages.append(chunk)
        if token is None:
            return pages


def test_pages_follow_tokens_to_the_end() -> None:
    items = [f"k{i:03d}" for i in range(12)]
    pages = collect(items, 5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [x for p in pages for x in p] == items
    # Exactly a multiple: no empty trailing page and no dangling token.
    assert [len(p) for p in collect(items[:10], 5)] == [5, 5]


def test_without_max_results() -> None:
    items = [f"k{i:03d}" for i in range(12)]
    assert page(items, {}, key=str) == (items, None)
    chunk, token = page(items, {}, key=str, max_default=5)
    assert chunk == items[:5] and token is not None
    rest, last = page(items, {"NextToken": token}, key=str)
    assert rest == items[5:] and last is None
    assert page([], {"MaxResults": 5}, key=str) == ([], None)


def test_token_survives_changes_between_pages() -> None:
    items = [f"k{i:03d}" for i in range(10)]
    first, token = page(items, {"MaxResults": 5}, key=str)
    assert token is not None
    assert first == items[:5]
    # k002 vanished and k0045 appeared before the next call: the next page starts right after
    # the last key returned (k004), wherever that now is.
    changed = sorted([i for i in items if i != "k002"] + ["k0045"])
    second, _ = page(changed, {"MaxResults": 5, "NextToken": token}, key=str)
    assert second == ["k0045", "k005", "k006", "k007", "k008"]


def test_unsorted_input_is_paged_in_key_order() -> None:
    items = ["b", "A", "c", "a", "B", "C"]
    pages = collect(items, 5)
    assert [x for p in pages for x in p] == sorted(items)


def test_bad_max_results_and_tokens() -> None:
    items = [str(i) for i in range(10)]
    for bad in (4, 1001, 0, -1, "x"):
        with pytest.raises(ServiceError) as err:
            page(items, {"MaxResults": bad}, key=str)
        assert err.value.code == "InvalidParameterValue"
        assert "maxResults" in err.value.message
    with pytest.raises(ServiceError):
        page(items, {"MaxResults": 101}, key=str, max_bounds=(5, 100))
    for token in ("!!!", "%%%%", "////", "gA=="):
        with pytest.raises(ServiceError) as err:
            page(items, {"NextToken": token}, key=str)
        assert err.value.code == "InvalidParameterValue"
        assert "NextToken" in err.value.message
    # A well-formed token past the end is an empty last page.
    assert page(items, {"NextToken": encode_token("zzz")}, key=str) == ([], None)


def test_well_formed_base64_that_was_not_issued_is_refused() -> None:
    items = [f"k{i:03d}" for i in range(12)]
    _, token = page(items, {"MaxResults": 5}, key=str)
    assert token is not None
    # Valid base64 every one, but not a token this cloud issued: garbage, a bare key (what
    # tokens used to be), a truncated or an edited token.
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in ("AAAA", "a2V5", "azAwNA==", token[:-4], tampered):
        with pytest.raises(ServiceError) as err:
            page(items, {"MaxResults": 5, "NextToken": bad}, key=str)
        assert (err.value.code, err.value.status) == ("InvalidParameterValue", 400)
        assert "The token is invalid." in err.value.message
