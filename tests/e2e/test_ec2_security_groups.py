"""EC2 security groups through boto3 and the AWS CLI: groups, rules in both request forms,
AWS's error codes, cross-account peers, filters, pagination, and instance membership."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_ec2_instances import default_image, wait_state
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix: str = "grp") -> str:
    return f"{prefix}-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


@pytest.fixture(scope="module")
def other(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """A second account: (its id, its ec2 client)."""
    account, ak, sk = new_account(cloud, tmp_path_factory.mktemp("other"))
    return account, cloud.client("ec2", ak, sk)


def group(ec2: Any, group_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return found


def new_group(ec2: Any, name: str | None = None) -> str:
    made = ec2.create_security_group(GroupName=name or unique(), Description="test group")
    return str(made["GroupId"])


def ingress(ec2: Any, group_id: str) -> list[dict[str, Any]]:
    perms: list[dict[str, Any]] = group(ec2, group_id)["IpPermissions"]
    return perms


def tcp(port: int, *cidrs: str, to: int | None = None) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port if to is None else to,
        "IpRanges": [{"CidrIp": c} for c in cidrs],
    }


def test_default_group_exists_with_ec2_default_rules(cloud: Cloud, tmp_path: Path) -> None:
    account, ak, sk = new_account(cloud, tmp_path)
    fresh = cloud.client("ec2", ak, sk)
    groups = fresh.describe_security_groups()["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"]
    default = groups[0]
    assert default["GroupId"].startswith("sg-") and len(default["GroupId"]) == 20
    assert default["OwnerId"] == account
    assert default["IpPermissions"] == [
        {
            "IpProtocol": "-1",
            "IpRanges": [],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [
                {"GroupId": default["GroupId"], "GroupName": "default", "UserId": account}
            ],
        }
    ]
    assert default["IpPermissionsEgress"] == [
        {
            "IpProtocol": "-1",
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        }
    ]
    # Asked for again, it is the same group (created once).
    again = fresh.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert [g["GroupId"] for g in again] == [default["GroupId"]]
    for ref in ({"GroupName": "default"}, {"GroupId": default["GroupId"]}):
        with pytest.raises(ClientError) as err:
            fresh.delete_security_group(**ref)
        assert code(err) == ("CannotDelete", 400)
    for name in ("default", "DEFAULT"):
        with pytest.raises(ClientError) as err:
            fresh.create_security_group(GroupName=name, Description="mine")
        assert code(err) == ("InvalidGroup.Reserved", 400)


def test_create_describe_delete(ec2: Any) -> None:
    name = unique()
    made = ec2.create_security_group(
        GroupName=name,
        Description="web tier (public)",
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "tier", "Value": "web"}]}
        ],
    )
    gid = made["GroupId"]
    assert gid.startswith("sg-") and len(gid) == 20
    assert made["Tags"] == [{"Key": "tier", "Value": "web"}]
    by_name = ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"]
    assert len(by_name) == 1 and by_name[0]["GroupId"] == gid
    found = group(ec2, gid)
    assert (found["GroupName"], found["Description"]) == (name, "web tier (public)")
    assert found["Tags"] == [{"Key": "tier", "Value": "web"}]
    assert found["IpPermissions"] == []
    assert [p["IpRanges"] for p in found["IpPermissionsEgress"]] == [[{"CidrIp": "0.0.0.0/0"}]]
    ec2.create_tags(Resources=[gid], Tags=[{"Key": "owner", "Value": "ops"}])
    assert {t["Key"] for t in group(ec2, gid)["Tags"]} == {"tier", "owner"}
    for dup in (name, name.upper()):
        with pytest.raises(ClientError) as err:
            ec2.create_security_group(GroupName=dup, Description="again")
        assert code(err) == ("InvalidGroup.Duplicate", 400)
    assert ec2.delete_security_group(GroupId=gid)["Return"] is True
    for ref in ({"GroupIds": [gid]}, {"GroupNames": [name]}):
        with pytest.raises(ClientError) as err:
            ec2.describe_security_groups(**ref)
        assert code(err) == ("InvalidGroup.NotFound", 400)
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=gid)
    assert code(err) == ("InvalidGroup.NotFound", 400)
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupName=name)
    assert code(err) == ("InvalidGroup.NotFound", 400)
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [gid]}])["Tags"] == []
    other_name = unique()
    ec2.create_security_group(GroupName=other_name, Description="by name")
    ec2.delete_security_group(GroupName=other_name)
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupNames=[other_name])
    assert code(err) == ("InvalidGroup.NotFound", 400)


@pytest.mark.parametrize(
    ("name", "description", "expected"),
    [
        ("sg-looks-like-an-id", "d", "InvalidParameterValue"),
        ("x" * 256, "d", "InvalidParameterValue"),
        ("tab\there", "d", "InvalidParameterValue"),
        ("caf\u00e9", "d", "InvalidParameterValue"),
        ("ok-name", "d" * 256, "InvalidParameterValue"),
        ("ok-name", "quote'd", "InvalidParameterValue"),
        ("", "d", "MissingParameter"),
        ("ok-name", "", "MissingParameter"),
    ],
)
def test_create_validation(ec2: Any, name: str, description: str, expected: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName=name, Description=description)
    assert code(err) == (expected, 400)


def test_group_ids_are_checked(ec2: Any) -> None:
    for call in (
        lambda: ec2.describe_security_groups(GroupIds=["bogus"]),
        lambda: ec2.delete_security_group(GroupId="sg-xyz"),
        lambda: ec2.authorize_security_group_ingress(
            GroupId="nope", IpPermissions=[tcp(22, "10.0.0.0/8")]
        ),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == ("InvalidGroupId.Malformed", 400)
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=["sg-00000000000000000"])
    assert code(err) == ("InvalidGroup.NotFound", 400)
    assert "sg-00000000000000000" in err.value.response["Error"]["Message"]


def test_authorize_and_revoke_ingress_with_ip_permissions(ec2: Any) -> None:
    gid = new_group(ec2)
    out = ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[
            tcp(22, "10.1.2.3/8"),
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 81,
                "IpRanges": [
                    {"CidrIp": "0.0.0.0/0", "Description": "web: public"},
                    {"CidrIp": "192.168.1.7/32"},
                ],
            },
            {
                "IpProtocol": "icmp",
                "FromPort": -1,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "172.16.0.0/12"}],
            },
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
        ],
    )
    assert out["Return"] is True
    made = out["SecurityGroupRules"]
    assert len(made) == 5
    assert all(r["SecurityGroupRuleId"].startswith("sgr-") and r["GroupId"] == gid for r in made)
    assert all(r["IsEgress"] is False for r in made)
    # AWS canonicalises CIDRs: the host bits of 10.1.2.3/8 are cleared.
    assert made[0]["CidrIpv4"] == "10.0.0.0/8" and made[0]["FromPort"] == 22
    perms = ingress(ec2, gid)
    assert [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in perms] == [
        ("icmp", -1, -1),
        ("tcp", 22, 22),
        ("tcp", 80, 81),
        ("udp", 53, 53),
    ]
    assert perms[2]["IpRanges"] == [
        {"CidrIp": "0.0.0.0/0", "Description": "web: public"},
        {"CidrIp": "192.168.1.7/32"},
    ]
    # The same rule again, also in its non-canonical spelling, is a duplicate.
    for cidr in ("10.0.0.0/8", "10.200.0.0/8"):
        with pytest.raises(ClientError) as err:
            ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[tcp(22, cidr)])
        assert code(err) == ("InvalidPermission.Duplicate", 400)
        assert "10.0.0.0/8" in err.value.response["Error"]["Message"]
    revoked = ec2.revoke_security_group_ingress(
        GroupId=gid, IpPermissions=[tcp(80, "192.168.1.7/32", to=81)]
    )
    assert revoked["Return"] is True and "UnknownIpPermissions" not in revoked
    assert [r["CidrIpv4"] for r in revoked["RevokedSecurityGroupRules"]] == ["192.168.1.7/32"]
    assert ingress(ec2, gid)[2]["IpRanges"] == [
        {"CidrIp": "0.0.0.0/0", "Description": "web: public"}
    ]
    # Nothing of it exists: NotFound. Some of it exists: that part goes, the rest is reported.
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[tcp(8080, "0.0.0.0/0")])
    assert code(err) == ("InvalidPermission.NotFound", 400)
    partial = ec2.revoke_security_group_ingress(
        GroupId=gid, IpPermissions=[tcp(22, "10.0.0.0/8"), tcp(23, "10.0.0.0/8")]
    )
    assert partial["Return"] is True
    unknown = partial["UnknownIpPermissions"]
    assert [(p["IpProtocol"], p["FromPort"], p["IpRanges"]) for p in unknown] == [
        ("tcp", 23, [{"CidrIp": "10.0.0.0/8"}])
    ]
    left = ingress(ec2, gid)
    assert [(p["IpProtocol"], p.get("FromPort")) for p in left] == [
        ("icmp", -1),
        ("tcp", 80),
        ("udp", 53),
    ]
    # Rule ids work too (how Terraform revokes).
    rule_id = next(r["SecurityGroupRuleId"] for r in made if r["IpProtocol"] == "udp")
    by_id = ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[rule_id])
    assert [r["SecurityGroupRuleId"] for r in by_id["RevokedSecurityGroupRules"]] == [rule_id]
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=gid, SecurityGroupRuleIds=[rule_id])
    assert code(err) == ("InvalidSecurityGroupRuleId.NotFound", 400)
    ec2.delete_security_group(GroupId=gid)


def test_legacy_flat_form(ec2: Any) -> None:
    name, source = unique(), unique()
    gid, source_id = new_group(ec2, name), new_group(ec2, source)
    ec2.authorize_security_group_ingress(
        GroupName=name, IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="192.168.0.0/16"
    )
    # A source group alone grants full ICMP, UDP and TCP access (as AWS documents).
    ec2.authorize_security_group_ingress(GroupName=name, SourceSecurityGroupName=source)
    perms = ingress(ec2, gid)
    summary = [
        (
            p["IpProtocol"],
            p["FromPort"],
            p["ToPort"],
            [r["CidrIp"] for r in p["IpRanges"]],
            [u["GroupId"] for u in p["UserIdGroupPairs"]],
        )
        for p in perms
    ]
    assert summary == [
        ("icmp", -1, -1, [], [source_id]),
        ("tcp", 0, 65535, [], [source_id]),
        ("tcp", 443, 443, ["192.168.0.0/16"], []),
        ("udp", 0, 65535, [], [source_id]),
    ]
    assert perms[0]["UserIdGroupPairs"][0]["GroupName"] == source
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupName=source)
    assert code(err) == ("DependencyViolation", 400)
    ec2.revoke_security_group_ingress(GroupName=name, SourceSecurityGroupName=source)
    ec2.revoke_security_group_ingress(
        GroupName=name, IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="192.168.0.0/16"
    )
    assert ingress(ec2, gid) == []
    ec2.delete_security_group(GroupName=source)
    ec2.delete_security_group(GroupName=name)


def test_protocol_names_and_numbers(ec2: Any) -> None:
    gid = new_group(ec2)
    ec2.authorize_security_group_ingress(
        GroupId=gid,
        IpPermissions=[
            {
                "IpProtocol": "6",
                "FromPort": 25,
                "ToPort": 25,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {
                "IpProtocol": "17",
                "FromPort": 123,
                "ToPort": 123,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {"IpProtocol": "all", "IpRanges": [{"CidrIp": "10.9.0.0/16"}]},
            # Other protocols allow every port: the ports given are dropped.
            {
                "IpProtocol": "50",
                "FromPort": 1,
                "ToPort": 2,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {
                "IpProtocol": "icmp",
                "FromPort": 8,
                "ToPort": 0,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
        ],
    )
    shown = [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in ingress(ec2, gid)]
    assert shown == [
        ("-1", None, None),
        ("50", None, None),
        ("icmp", 8, 0),
        ("tcp", 25, 25),
        ("udp", 123, 123),
    ]
    # "tcp" and "6" are the same rule.
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[tcp(25, "10.0.0.0/8")])
    assert code(err) == ("InvalidPermission.Duplicate", 400)
    ec2.delete_security_group(GroupId=gid)


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        (tcp(22, "10.0.0.0/33"), "InvalidParameterValue"),
        (tcp(22, "10.0.0.256/32"), "InvalidParameterValue"),
        (tcp(22, "10.0.0.1"), "InvalidParameterValue"),
        (tcp(22, "not-a-cidr"), "InvalidParameterValue"),
        (tcp(22, "::/0"), "InvalidParameterValue"),
        (tcp(90, "10.0.0.0/8", to=80), "InvalidParameterValue"),
        (tcp(70000, "10.0.0.0/8"), "InvalidParameterValue"),
        (tcp(-1, "10.0.0.0/8"), "InvalidParameterValue"),
        ({"IpProtocol": "udp", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, "InvalidParameterValue"),
        (
            {
                "IpProtocol": "icmp",
                "FromPort": -1,
                "ToPort": 3,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            "InvalidParameterValue",
        ),
        (
            {
                "IpProtocol": "icmp",
                "FromPort": 300,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            "InvalidParameterValue",
        ),
        ({"IpProtocol": "bogus", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, "InvalidParameterValue"),
        ({"IpProtocol": "256", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, "InvalidParameterValue"),
        (
            {
                "IpProtocol": "tcp",
                "FromPort": 1,
                "ToPort": 1,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "no <tags>"}],
            },
            "InvalidParameterValue",
        ),
        ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1}, "MissingParameter"),
        (
            {
                "IpProtocol": "tcp",
                "FromPort": 1,
                "ToPort": 1,
                "UserIdGroupPairs": [{"GroupId": "sg-00000000000000000"}],
            },
            "InvalidGroup.NotFound",
        ),
        (
            {
                "IpProtocol": "tcp",
                "FromPort": 1,
                "ToPort": 1,
                "UserIdGroupPairs": [{"GroupName": "no-such-group"}],
            },
            "InvalidGroup.NotFound",
        ),
        (
            {
                "IpProtocol": "tcp",
                "FromPort": 1,
                "ToPort": 1,
                "UserIdGroupPairs": [{"GroupId": "sg-bad"}],
            },
            "InvalidGroupId.Malformed",
        ),
    ],
)
def test_bad_permission_changes_nothing(
    ec2: Any, permission: dict[str, Any], expected: str
) -> None:
    gid = new_group(ec2)
    try:
        before = group(ec2, gid)
        with pytest.raises(ClientError) as err:
            # A good permission first: the request is all or nothing.
            ec2.authorize_security_group_ingress(
                GroupId=gid, IpPermissions=[tcp(8443, "10.0.0.0/8"), permission]
            )
        assert code(err) == (expected, 400)
        assert group(ec2, gid) == before
    finally:
        ec2.delete_security_group(GroupId=gid)


def test_duplicate_within_one_request_changes_nothing(ec2: Any) -> None:
    gid = new_group(ec2)
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(
            GroupId=gid, IpPermissions=[tcp(22, "10.0.0.0/8"), tcp(22, "10.0.0.0/8")]
        )
    assert code(err) == ("InvalidPermission.Duplicate", 400)
    assert ingress(ec2, gid) == []
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=gid)
    assert code(err) == ("MissingParameter", 400)
    ec2.delete_security_group(GroupId=gid)


def test_egress_rules(ec2: Any) -> None:
    gid, peer = new_group(ec2), new_group(ec2)
    everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[everything])
    assert code(err) == ("InvalidPermission.Duplicate", 400)
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[everything])
    assert group(ec2, gid)["IpPermissionsEgress"] == []
    out = ec2.authorize_security_group_egress(
        GroupId=gid,
        IpPermissions=[
            tcp(443, "203.0.113.0/24"),
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": peer, "Description": "db"}],
            },
        ],
    )
    assert [r["IsEgress"] for r in out["SecurityGroupRules"]] == [True, True]
    assert out["SecurityGroupRules"][1]["ReferencedGroupInfo"]["GroupId"] == peer
    egress = group(ec2, gid)["IpPermissionsEgress"]
    assert [
        (p["FromPort"], p["IpRanges"], [u["GroupId"] for u in p["UserIdGroupPairs"]])
        for p in egress
    ] == [
        (443, [{"CidrIp": "203.0.113.0/24"}], []),
        (5432, [], [peer]),
    ]
    assert egress[1]["UserIdGroupPairs"][0]["Description"] == "db"
    assert group(ec2, gid)["IpPermissions"] == []
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[tcp(443, "203.0.113.0/24")])
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=peer)
    assert code(err) == ("DependencyViolation", 400)
    ec2.delete_security_group(GroupId=gid)
    ec2.delete_security_group(GroupId=peer)


def test_cross_account_source_group(ec2: Any, other: tuple[str, Any]) -> None:
    other_id, theirs = other
    their_name = unique("theirs")
    their_gid = new_group(theirs, their_name)
    mine = new_group(ec2)
    # Another account's group is named with its owner (by name or by id).
    ec2.authorize_security_group_ingress(
        GroupId=mine,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "UserIdGroupPairs": [{"GroupName": their_name, "UserId": other_id}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "UserIdGroupPairs": [{"GroupId": their_gid, "UserId": other_id}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 81,
                "ToPort": 81,
                "UserIdGroupPairs": [{"GroupName": "default", "UserId": other_id}],
            },
        ],
    )
    pairs = [p["UserIdGroupPairs"][0] for p in ingress(ec2, mine)]
    assert [(u["GroupId"], u["UserId"]) for u in pairs[:2]] == [(their_gid, other_id)] * 2
    their_default = theirs.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    assert pairs[2]["GroupId"] == their_default["GroupId"]
    # Without its owner, another account's group is not found; nor is it visible to me.
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(
            GroupId=mine,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 1,
                    "ToPort": 1,
                    "UserIdGroupPairs": [{"GroupId": their_gid}],
                }
            ],
        )
    assert code(err) == ("InvalidGroup.NotFound", 400)
    for call in (
        lambda: ec2.describe_security_groups(GroupIds=[their_gid]),
        lambda: ec2.delete_security_group(GroupId=their_gid),
        lambda: theirs.describe_security_groups(GroupIds=[mine]),
        lambda: theirs.authorize_security_group_ingress(
            GroupId=mine, IpPermissions=[tcp(1, "10.0.0.0/8")]
        ),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == ("InvalidGroup.NotFound", 400)
    # My rule depends on their group.
    with pytest.raises(ClientError) as err:
        theirs.delete_security_group(GroupId=their_gid)
    assert code(err) == ("DependencyViolation", 400)
    ec2.delete_security_group(GroupId=mine)
    theirs.delete_security_group(GroupId=their_gid)


def test_filters_and_pagination(ec2: Any) -> None:
    stem = unique("flt")
    ids = [new_group(ec2, f"{stem}-{n}") for n in range(7)]
    ec2.create_tags(Resources=ids[:2], Tags=[{"Key": "stem", "Value": stem}])
    ec2.authorize_security_group_ingress(GroupId=ids[0], IpPermissions=[tcp(3306, "10.3.0.0/16")])
    ec2.authorize_security_group_ingress(
        GroupId=ids[1],
        IpPermissions=[
            {
                "IpProtocol": "udp",
                "FromPort": 500,
                "ToPort": 501,
                "UserIdGroupPairs": [{"GroupId": ids[0]}],
            }
        ],
    )
    ec2.revoke_security_group_egress(
        GroupId=ids[2], IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )

    def found(*filters: tuple[str, list[str]]) -> list[str]:
        flt = [{"Name": "group-name", "Values": [f"{stem}-*"]}]
        flt += [{"Name": n, "Values": v} for n, v in filters]
        groups = ec2.describe_security_groups(Filters=flt)["SecurityGroups"]
        return sorted(g["GroupId"] for g in groups)

    assert found() == sorted(ids)
    assert found(("group-id", [ids[3]])) == [ids[3]]
    assert found(("ip-permission.from-port", ["3306"])) == [ids[0]]
    assert found(("ip-permission.to-port", ["501"])) == [ids[1]]
    assert found(("ip-permission.protocol", ["udp"])) == [ids[1]]
    assert found(("ip-permission.cidr", ["10.3.*"])) == [ids[0]]
    assert found(("ip-permission.group-id", [ids[0]])) == [ids[1]]
    assert found(("ip-permission.group-name", [f"{stem}-0"])) == [ids[1]]
    assert found(("egress.ip-permission.cidr", ["0.0.0.0/0"])) == sorted(ids[:2] + ids[3:])
    assert found(("egress.ip-permission.protocol", ["-1"])) == sorted(ids[:2] + ids[3:])
    assert found(("tag:stem", [stem])) == sorted(ids[:2])
    assert found(("tag-key", ["stem"])) == sorted(ids[:2])
    assert found(("description", ["test group"]), ("group-name", [f"{stem}-6"])) == [ids[6]]
    owner = group(ec2, ids[0])["OwnerId"]
    assert found(("owner-id", [owner])) == sorted(ids)
    assert found(("owner-id", ["000000000000"])) == []
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert code(err) == ("InvalidParameterValue", 400)
    seen: list[str] = []
    token: str | None = None
    while True:
        args: dict[str, Any] = {
            "MaxResults": 5,
            "Filters": [{"Name": "group-name", "Values": [f"{stem}-*"]}],
        }
        if token:
            args["NextToken"] = token
        page = ec2.describe_security_groups(**args)
        assert len(page["SecurityGroups"]) <= 5
        seen += [g["GroupId"] for g in page["SecurityGroups"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    paginated = ec2.get_paginator("describe_security_groups").paginate(
        PaginationConfig={"PageSize": 5}
    )
    every = [g["GroupId"] for p in paginated for g in p["SecurityGroups"]]
    assert set(ids) <= set(every) and len(every) == len(set(every))
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [ids[0]]}])
    assert sorted((r["IsEgress"], r["IpProtocol"]) for r in rules["SecurityGroupRules"]) == [
        (False, "tcp"),
        (True, "-1"),
    ]
    ec2.revoke_security_group_ingress(
        GroupId=ids[1],
        IpPermissions=[
            {
                "IpProtocol": "udp",
                "FromPort": 500,
                "ToPort": 501,
                "UserIdGroupPairs": [{"GroupId": ids[0]}],
            }
        ],
    )
    for gid in ids:
        ec2.delete_security_group(GroupId=gid)


def instance_groups(ec2: Any, iid: str) -> list[dict[str, str]]:
    reservation = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
    groups: list[dict[str, str]] = reservation["Instances"][0]["SecurityGroups"]
    return groups


def test_run_instances_with_groups(ec2: Any) -> None:
    name_a, name_b = unique(), unique()
    gid_a, gid_b = new_group(ec2, name_a), new_group(ec2, name_b)
    res = ec2.run_instances(
        ImageId=default_image(ec2),
        MinCount=1,
        MaxCount=1,
        SecurityGroups=[name_a],
        SecurityGroupIds=[gid_b],
    )
    iid = res["Instances"][0]["InstanceId"]
    expected = [{"GroupName": name_a, "GroupId": gid_a}, {"GroupName": name_b, "GroupId": gid_b}]
    assert res["Instances"][0]["SecurityGroups"] == expected
    assert instance_groups(ec2, iid) == expected
    attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="groupSet")
    assert [g["GroupId"] for g in attr["Groups"]] == [gid_a, gid_b]
    for ref in ({"GroupId": gid_a}, {"GroupName": name_b}):
        with pytest.raises(ClientError) as err:
            ec2.delete_security_group(**ref)
        assert code(err) == ("DependencyViolation", 400)
    wait_state(ec2, [iid], "running")
    # Membership changes on a live instance: gid_a is then free to go.
    ec2.modify_instance_attribute(InstanceId=iid, Groups=[gid_b])
    assert instance_groups(ec2, iid) == [{"GroupName": name_b, "GroupId": gid_b}]
    ec2.delete_security_group(GroupId=gid_a)
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, Groups=[gid_a])
    assert code(err) == ("InvalidGroup.NotFound", 400)
    assert instance_groups(ec2, iid) == [{"GroupName": name_b, "GroupId": gid_b}]
    ec2.terminate_instances(InstanceIds=[iid])
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=gid_b)
    assert code(err) == ("DependencyViolation", 400)
    wait_state(ec2, [iid], "terminated")
    assert ec2.delete_security_group(GroupId=gid_b)["Return"] is True


def test_run_instances_default_group(ec2: Any) -> None:
    default = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    res = ec2.run_instances(ImageId=default_image(ec2), MinCount=2, MaxCount=2)
    ids = [i["InstanceId"] for i in res["Instances"]]
    want = [{"GroupName": "default", "GroupId": default["GroupId"]}]
    assert res["Groups"] == want
    assert all(instance_groups(ec2, iid) == want for iid in ids)
    ec2.terminate_instances(InstanceIds=ids)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"SecurityGroups": ["no-such-group"]}, "InvalidGroup.NotFound"),
        ({"SecurityGroupIds": ["sg-00000000000000000"]}, "InvalidGroup.NotFound"),
        ({"SecurityGroupIds": ["sg-nope"]}, "InvalidGroupId.Malformed"),
    ],
)
def test_run_instances_unknown_group(ec2: Any, params: dict[str, Any], expected: str) -> None:
    before = len(ec2.describe_instances()["Reservations"])
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=default_image(ec2), MinCount=1, MaxCount=1, **params)
    assert code(err) == (expected, 400)
    assert len(ec2.describe_instances()["Reservations"]) == before


def test_aws_cli(cloud: Cloud, ec2: Any) -> None:
    name = unique("cli")
    made = cloud.aws_cli(
        "ec2",
        "create-security-group",
        "--group-name",
        name,
        "--description",
        "from the CLI",
        "--output",
        "json",
        check=True,
    )
    gid = json.loads(made.stdout)["GroupId"]
    cloud.aws_cli(
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        gid,
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "0.0.0.0/0",
        check=True,
    )
    cloud.aws_cli(
        "ec2",
        "authorize-security-group-ingress",
        "--group-name",
        name,
        "--protocol",
        "tcp",
        "--port",
        "8000-8010",
        "--cidr",
        "10.0.0.0/8",
        check=True,
    )
    shown = cloud.aws_cli(
        "ec2", "describe-security-groups", "--group-names", name, "--output", "json", check=True
    )
    perms = json.loads(shown.stdout)["SecurityGroups"][0]["IpPermissions"]
    assert [(p["FromPort"], p["ToPort"], p["IpRanges"]) for p in perms] == [
        (80, 80, [{"CidrIp": "0.0.0.0/0"}]),
        (8000, 8010, [{"CidrIp": "10.0.0.0/8"}]),
    ]
    dup = cloud.aws_cli(
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        gid,
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "0.0.0.0/0",
    )
    assert dup.returncode != 0 and "InvalidPermission.Duplicate" in dup.stderr
    cloud.aws_cli("ec2", "delete-security-group", "--group-id", gid, check=True)
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=[gid])
    assert code(err) == ("InvalidGroup.NotFound", 400)
