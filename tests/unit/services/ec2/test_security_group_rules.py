"""Security group permissions: parsing both request forms, AWS normalisation, grouping."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.api.errors import ServiceError
from mallee.services.ec2.security_group_rules import (
    Peer,
    PermissionSpec,
    Rule,
    canonical_cidr,
    duplicate,
    ip_permissions,
    parse_permissions,
    ports,
    protocol,
    rule_description,
)


def error(call: Any, *args: Any) -> tuple[str, str]:
    with pytest.raises(ServiceError) as err:
        call(*args)
    return err.value.code, err.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tcp", "tcp"),
        ("TCP", "tcp"),
        ("6", "tcp"),
        ("udp", "udp"),
        ("17", "udp"),
        ("icmp", "icmp"),
        ("1", "icmp"),
        ("-1", "-1"),
        ("all", "-1"),
        ("50", "50"),
        ("047", "47"),
    ],
)
def test_protocols_normalise_as_aws(raw: str, expected: str) -> None:
    assert protocol(raw) == expected


@pytest.mark.parametrize("raw", ["gre", "256", "", None, "-2", "6.0"])
def test_unknown_protocols(raw: Any) -> None:
    assert error(protocol, raw)[0] == "InvalidParameterValue"


def test_ports_by_protocol() -> None:
    assert ports("tcp", 22, 22) == (22, 22)
    assert ports("udp", 0, 65535) == (0, 65535)
    assert ports("icmp", 8, 0) == (8, 0)
    assert ports("icmp", None, None) == (-1, -1)
    # All protocols and the rest allow every port: the request's ports are dropped.
    assert ports("-1", 1, 2) == (None, None)
    assert ports("50", 1, 2) == (None, None)
    for bad in ((None, 22), (22, None), (90, 80), (0, 65536), (-1, -1), ("x", 1)):
        assert error(ports, "tcp", *bad)[0] == "InvalidParameterValue"
    for bad in ((-1, 3), (256, 0), (0, 256), (-2, -1)):
        assert error(ports, "icmp", *bad)[0] == "InvalidParameterValue"


def test_cidrs_are_canonicalised_or_rejected() -> None:
    assert canonical_cidr("10.1.2.3/8") == "10.0.0.0/8"
    assert canonical_cidr(" 192.168.1.7/32 ") == "192.168.1.7/32"
    assert canonical_cidr("0.0.0.0/0") == "0.0.0.0/0"
    for bad in ("10.0.0.1", "10.0.0.0/33", "300.0.0.0/8", "", "::/0", "010.0.0.0/8", "a/b"):
        assert error(canonical_cidr, bad)[0] == "InvalidParameterValue"
    assert error(canonical_cidr, "10.0.0.0/33")[1] == "CIDR block 10.0.0.0/33 is malformed"


def test_rule_descriptions() -> None:
    assert rule_description(None) == ""
    assert rule_description("web: public (80) #1") == "web: public (80) #1"
    for bad in ("a" * 256, "quote'", "tab\t", "caf\u00e9", "<b>"):
        assert error(rule_description, bad)[0] == "InvalidParameterValue"


def test_ip_permissions_form() -> None:
    specs = parse_permissions(
        {
            "IpPermissions": [
                {
                    "IpProtocol": "6",
                    "FromPort": 80,
                    "ToPort": 81,
                    "IpRanges": [{"CidrIp": "10.9.9.9/8", "Description": "lan"}],
                    "UserIdGroupPairs": [
                        {"GroupId": "sg-0123456789abcdef0", "UserId": "123456789012"},
                        {"GroupName": "web"},
                    ],
                },
                {"IpProtocol": "all", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            ]
        }
    )
    assert specs == [
        PermissionSpec(
            "tcp",
            80,
            81,
            (
                Peer(cidr="10.0.0.0/8", description="lan"),
                Peer(group_id="sg-0123456789abcdef0", user_id="123456789012"),
                Peer(group_name="web"),
            ),
        ),
        PermissionSpec("-1", None, None, (Peer(cidr="0.0.0.0/0"),)),
    ]


def test_flat_forms() -> None:
    cidr = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"}
    assert parse_permissions(cidr) == [PermissionSpec("tcp", 22, 22, (Peer(cidr="10.0.0.0/8"),))]
    peer = Peer(group_name="web", user_id="123456789012")
    source = {"SourceSecurityGroupName": "web", "SourceSecurityGroupOwnerId": "123456789012"}
    # A source group alone: full ICMP, UDP and TCP access, as AWS documents.
    assert parse_permissions(source) == [
        PermissionSpec("tcp", 0, 65535, (peer,)),
        PermissionSpec("udp", 0, 65535, (peer,)),
        PermissionSpec("icmp", -1, -1, (peer,)),
    ]
    with_ports = {**source, "IpProtocol": "udp", "FromPort": 53, "ToPort": 53}
    assert parse_permissions(with_ports) == [PermissionSpec("udp", 53, 53, (peer,))]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "MissingParameter"),
        ({"CidrIp": "10.0.0.0/8"}, "MissingParameter"),
        ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1}, "MissingParameter"),
        ({"SourceSecurityGroupOwnerId": "123456789012"}, "MissingParameter"),
        ({"SourceSecurityGroupName": "a", "CidrIp": "10.0.0.0/8"}, "InvalidParameterCombination"),
        (
            {"IpProtocol": "tcp", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": []}]},
            "InvalidParameterCombination",
        ),
        ({"IpPermissions": [{"IpProtocol": "-1"}]}, "MissingParameter"),
        ({"IpPermissions": [{"IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}, "MissingParameter"),
        (
            {"IpPermissions": [{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]},
            "InvalidParameterValue",
        ),
        (
            {"IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"UserId": "1"}]}]},
            "MissingParameter",
        ),
    ],
)
def test_bad_requests(params: dict[str, Any], expected: str) -> None:
    assert error(parse_permissions, params)[0] == expected


def test_grouping_as_ec2_shows_it() -> None:
    rules = [
        Rule("tcp", 80, 80, cidr="10.0.0.0/8"),
        Rule("tcp", 22, 22, cidr="0.0.0.0/0", description="ssh"),
        Rule("tcp", 80, 80, peer_group_id="sg-b", peer_account_id="111111111111"),
        Rule("tcp", 80, 80, cidr="0.0.0.0/0"),
        Rule("-1", None, None, peer_group_id="sg-a", peer_account_id="222222222222"),
    ]
    names = {"sg-b": ("web", "111111111111")}
    out = ip_permissions(rules, names)
    assert out == [
        {
            "IpProtocol": "-1",
            "IpRanges": [],
            # A group whose name is unknown (gone, or not visible) shows its id and owner.
            "UserIdGroupPairs": [{"GroupId": "sg-a", "UserId": "222222222222"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
        },
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}],
            "UserIdGroupPairs": [],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
        },
        {
            "IpProtocol": "tcp",
            "FromPort": 80,
            "ToPort": 80,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}],
            "UserIdGroupPairs": [{"GroupId": "sg-b", "GroupName": "web", "UserId": "111111111111"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
        },
    ]
    assert ip_permissions([], {}) == []


def test_rule_identity_ignores_description() -> None:
    a = Rule("tcp", 22, 22, cidr="10.0.0.0/8", description="one")
    b = Rule("tcp", 22, 22, cidr="10.0.0.0/8", description="two")
    assert a.key() == b.key()
    assert a.key() != Rule("tcp", 22, 23, cidr="10.0.0.0/8").key()


def test_duplicate_message_names_the_rule() -> None:
    err = duplicate(Rule("tcp", 22, 22, cidr="10.0.0.0/8"))
    assert err.code == "InvalidPermission.Duplicate"
    assert err.message == (
        'the specified rule "peer: 10.0.0.0/8, TCP, from port: 22, to port: 22, ALLOW" '
        "already exists"
    )
    assert "peer: sg-a, ALL" in duplicate(Rule("-1", None, None, peer_group_id="sg-a")).message
