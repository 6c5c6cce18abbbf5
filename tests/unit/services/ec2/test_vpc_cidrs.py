"""The VPC block arithmetic: sizes, overlap, the covering block, free addresses."""

from __future__ import annotations

import ipaddress

import pytest

from mallee.services.ec2 import cidrs


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0/16", "10.0.0.0/16"),
        (" 10.0.0.0/28", "10.0.0.0/28"),
        ("10.0.0.1/16", None),  # host bits set: not a block
        ("10.0.0.0", None),
        ("10.0.0.0/33", None),
        ("fd00::/64", None),
        ("bogus/8", None),
    ],
)
def test_parse(text: str, expected: str | None) -> None:
    found = cidrs.parse(text)
    assert (str(found) if found else None) == expected


@pytest.mark.parametrize(
    ("prefix", "ok"), [(15, False), (16, True), (24, True), (28, True), (29, False)]
)
def test_sized_is_slash_16_to_28(prefix: int, ok: bool) -> None:
    assert cidrs.sized(net(f"10.0.0.0/{prefix}")) is ok


def test_overlaps() -> None:
    others = [net("10.0.0.0/24"), net("10.0.2.0/24")]
    assert cidrs.overlaps(net("10.0.0.128/25"), others)
    assert cidrs.overlaps(net("10.0.0.0/16"), others)
    assert not cidrs.overlaps(net("10.0.1.0/24"), others)
    assert not cidrs.overlaps(net("10.0.1.0/24"), [])


def test_covering_is_the_smallest_single_block() -> None:
    assert cidrs.covering([]) is None
    assert cidrs.covering([net("10.111.1.0/24")]) == net("10.111.1.0/24")
    assert cidrs.covering([net("10.111.1.0/24"), net("10.111.2.0/24")]) == net("10.111.0.0/22")
    assert cidrs.covering([net("10.111.2.0/24"), net("10.111.3.0/24")]) == net("10.111.2.0/23")
    assert cidrs.covering([net("10.111.0.0/16"), net("10.112.0.0/16")]) == net("10.96.0.0/11")
    assert cidrs.covering([net("0.0.0.0/1"), net("128.0.0.0/1")]) == net("0.0.0.0/0")


def test_available_leaves_the_reserved_five() -> None:
    assert cidrs.available(net("10.0.0.0/24"), 0) == 251
    assert cidrs.available(net("10.0.0.0/24"), 10) == 241
    assert cidrs.available(net("10.0.0.0/28"), 0) == 11
    assert cidrs.available(net("10.0.0.0/28"), 50) == 0


def test_first_free_skips_reserved_and_taken() -> None:
    block = net("10.0.0.0/28")
    assert cidrs.first_free(block, set()) == "10.0.0.4"
    assert cidrs.first_free(block, {"10.0.0.4", "10.0.0.5"}) == "10.0.0.6"
    every = {f"10.0.0.{n}" for n in range(4, 15)}
    assert cidrs.first_free(block, every) is None


@pytest.mark.parametrize(
    ("cidr", "used", "expected"),
    [("10.0.0.0/24", 0, 251), ("10.0.0.0/28", 3, 8), ("10.0.0.0/28", 20, 0), ("bogus", 0, 0)],
)
def test_available_in_reads_the_prefix(cidr: str, used: int, expected: int) -> None:
    assert cidrs.available_in(cidr, used) == expected
    block = cidrs.parse(cidr)
    if block is not None:
        assert cidrs.available(block, used) == expected
