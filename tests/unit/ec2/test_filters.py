"""Describe filters and pagination: AWS matching rules, linear-time wildcards, tokens."""

from __future__ import annotations

import time

import pytest

from mallee.api.errors import ServiceError
from mallee.services.ec2.filters import Filter, matches, parse_filters
from mallee.services.ec2.pagination import page


def test_pathological_pattern_stays_fast() -> None:
    filters = [Filter("name", ("*a" * 200 + "b",))]
    start = time.perf_counter()
    assert not matches(filters, {"name": "a" * 20000}.get, {})
    # Generous bound: a backtracking matcher would take years, not seconds.
    assert time.perf_counter() - start < 5


def test_filters_and_values_combine_as_aws() -> None:
    filters = parse_filters(
        [
            {"Name": "instance-state-name", "Values": ["running", "pending"]},
            {"Name": "tag:Name", "Values": ["web*"]},
        ],
        ["instance-state-name"],
    )
    values = {"instance-state-name": "running"}
    assert matches(filters, values.get, {"Name": "web-1"})
    assert not matches(filters, values.get, {"Name": "db-1"})
    assert not matches(filters, {"instance-state-name": "stopped"}.get, {"Name": "web-1"})
    assert matches([Filter("tag-key", ("Na*",))], values.get, {"Name": "x"})
    assert matches([Filter("flag", ("true",))], {"flag": True}.get, {})
    assert matches([Filter("ids", ("b",))], {"ids": ["a", "b"]}.get, {})


def test_unknown_or_empty_filters_are_rejected() -> None:
    with pytest.raises(ServiceError) as err:
        parse_filters([{"Name": "no-such", "Values": ["x"]}], ["known"])
    assert err.value.code == "InvalidParameterValue"
    with pytest.raises(ServiceError):
        parse_filters([{"Name": "known", "Values": []}], ["known"])


def test_pages_follow_tokens_to_the_end() -> None:
    items = [f"k{i:03d}" for i in range(12)]
    seen: list[str] = []
    token = None
    while True:
        params = {"MaxResults": 5, **({"NextToken": token} if token else {})}
        chunk, token = page(items, params, key=str)
        seen += chunk
        if token is None:
            break
    assert seen == items
    assert page(items, {}, key=str) == (items, None)
    with pytest.raises(ServiceError):
        page(items, {"MaxResults": 2}, key=str)
    with pytest.raises(ServiceError):
        page(items, {"NextToken": "!!!"}, key=str)
