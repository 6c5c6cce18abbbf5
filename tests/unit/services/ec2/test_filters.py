"""Describe filters: AWS matching rules, escapes, linear-time wildcards."""

from __future__ import annotations

import time

import pytest

from mallee.api.errors import ServiceError
from mallee.services.ec2.filters import Filter, lookup, matches, parse_filters, value_matches


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
    assert not matches(filters, values.get, {})
    assert not matches(filters, {"instance-state-name": "stopped"}.get, {"Name": "web-1"})
    assert matches([], values.get, {})


def test_value_kinds() -> None:
    assert matches([Filter("flag", ("true",))], {"flag": True}.get, {})
    assert matches([Filter("flag", ("false",))], {"flag": False}.get, {})
    assert matches([Filter("n", ("16",))], {"n": 16}.get, {})
    assert matches([Filter("ids", ("b",))], {"ids": ["a", "b"]}.get, {})
    assert matches([Filter("ids", ("b",))], {"ids": ("a", ["b"])}.get, {})
    # None has no value: no pattern matches it, not even "*".
    assert not matches([Filter("k", ("*",))], {"k": None}.get, {})


def test_tag_filters() -> None:
    tags = {"Name": "web-1", "env": ""}
    assert matches([Filter("tag-key", ("Na*",))], {}.get, tags)
    assert matches([Filter("tag-value", ("web-?",))], {}.get, tags)
    assert matches([Filter("tag:env", ("",))], {}.get, tags)
    assert not matches([Filter("tag:missing", ("*",))], {}.get, tags)
    # Tag keys are case-sensitive.
    assert not matches([Filter("tag:name", ("web-1",))], {}.get, tags)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*", "", True),
        ("a*", "abc", True),
        ("*c", "abc", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "aXcYb", False),
        ("ab", "abc", False),
        ("", "", True),
        ("*a*a*", "aa", True),
        ("*a*a*", "a", False),
        (r"a\*b", "a*b", True),
        (r"a\*b", "axb", False),
        (r"a\?", "a?", True),
        (r"a\?", "ab", False),
        (r"\\", "\\", True),
        (r"x\*y*", "x*yzz", True),
        (r"*\**", "a*b", True),
        (r"*\**", "ab", False),
        (r"*\?*?", "1?23", True),
    ],
)
def test_wildcards_and_escapes(pattern: str, text: str, expected: bool) -> None:
    assert value_matches(pattern, text) is expected


@pytest.mark.parametrize(
    "pattern",
    ["*a" * 300 + "b", "?*" * 300 + "b", "\\?*a" * 300 + "b", "*a?" * 300 + "b*"],
)
def test_pathological_patterns_stay_fast(pattern: str) -> None:
    start = time.perf_counter()
    assert not matches([Filter("name", (pattern,))], {"name": "a" * 20000}.get, {})
    # Generous bound: a backtracking matcher would take years, not seconds.
    assert time.perf_counter() - start < 10


def test_unknown_or_empty_filters_are_rejected() -> None:
    for raw in (
        [{"Name": "no-such", "Values": ["x"]}],
        [{"Name": "known", "Values": []}],
        [{"Name": "tag:", "Values": ["x"]}],
        [{"Values": ["x"]}],
    ):
        with pytest.raises(ServiceError) as err:
            parse_filters(raw, ["known"])
        assert err.value.code == "InvalidParameterValue"
    with pytest.raises(ServiceError) as err:
        parse_filters([{"Name": "bogus", "Values": ["x"]}], [])
    assert err.value.message == "The filter 'bogus' is invalid"
    assert parse_filters(None, []) == []
    assert parse_filters([{"Name": "tag-key", "Values": ["x"]}], []) == [Filter("tag-key", ("x",))]


def test_lookup_builds_value_of() -> None:
    table = {"name": lambda row: row["n"], "size": lambda row: row["s"]}
    value_of = lookup(table, {"n": "abc", "s": 3})
    assert matches([Filter("name", ("a*",)), Filter("size", ("3",))], value_of, {})
