"""What DescribeSecurityGroups, DescribeSecurityGroupRules and the rule writes answer: groups
with their rules, rendered as EC2 shows them, and the filters Describe understands."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.services.base import Result
from mallee.services.ec2 import security_group_rules as rules
from mallee.services.ec2.tags import tag_list
from mallee.store.tables.network import Ec2SecurityGroup, Ec2SecurityGroupRule
from mallee.store.tables.vpc import Ec2AccountVpc


def peer_names(s: Session, rows: Iterable[rules.RuleLike]) -> rules.GroupNames:
    ids = {r.peer_group_id for r in rows if r.peer_group_id}
    if not ids:
        return {}
    found = s.execute(
        select(Ec2SecurityGroup.id, Ec2SecurityGroup.name, Ec2SecurityGroup.account_id).where(
            Ec2SecurityGroup.id.in_(ids)
        )
    )
    return {gid: (name, owner) for gid, name, owner in found}


def _rule_fields(row: Ec2SecurityGroupRule) -> Result:
    """What every answer about one rule says of it."""
    out: Result = {
        "SecurityGroupRuleId": row.id,
        "GroupId": row.group_id,
        "IsEgress": row.egress,
        "IpProtocol": row.protocol,
        "FromPort": -1 if row.from_port is None else row.from_port,
        "ToPort": -1 if row.to_port is None else row.to_port,
        "Description": row.description,
    }
    if row.cidr:
        out["CidrIpv4"] = row.cidr
    return out


def rule_out(group: Ec2SecurityGroup, row: Ec2SecurityGroupRule, tags: dict[str, str]) -> Result:
    """A SecurityGroupRule (Authorize's answer, DescribeSecurityGroupRules)."""
    out = _rule_fields(row)
    out["GroupOwnerId"] = group.account_id
    out["Tags"] = tag_list(tags)
    if row.peer_group_id:
        out["ReferencedGroupInfo"] = {"GroupId": row.peer_group_id, "UserId": row.peer_account_id}
    return out


def revoked_out(row: Ec2SecurityGroupRule) -> Result:
    """A RevokedSecurityGroupRule (Revoke's answer)."""
    out = _rule_fields(row)
    if row.peer_group_id:
        out["ReferencedGroupId"] = row.peer_group_id
    return out


@dataclass(slots=True)
class GroupView:
    """A group with its rules, what Describe renders and its filters read."""

    group: Ec2SecurityGroup
    ingress: list[Ec2SecurityGroupRule]
    egress: list[Ec2SecurityGroupRule]
    names: rules.GroupNames
    # The VPC shown: the group's, or for EDGE's groups the account's default VPC (None once
    # the user deleted it).
    vpc_id: str | None = None


def _rule_filters(
    prefix: str, pick: Callable[[GroupView], list[Ec2SecurityGroupRule]]
) -> dict[str, Callable[[GroupView], Any]]:
    def each(attr: Callable[[Ec2SecurityGroupRule, GroupView], Any]) -> Callable[[GroupView], Any]:
        return lambda v: [attr(r, v) for r in pick(v)]

    return {
        f"{prefix}.protocol": each(lambda r, v: r.protocol),
        f"{prefix}.from-port": each(lambda r, v: r.from_port),
        f"{prefix}.to-port": each(lambda r, v: r.to_port),
        f"{prefix}.cidr": each(lambda r, v: r.cidr),
        f"{prefix}.group-id": each(lambda r, v: r.peer_group_id),
        f"{prefix}.group-name": each(
            lambda r, v: v.names.get(r.peer_group_id or "", (None, None))[0]
        ),
        f"{prefix}.user-id": each(lambda r, v: r.peer_account_id),
        f"{prefix}.ipv6-cidr": lambda v: None,
        f"{prefix}.prefix-list-id": lambda v: None,
    }


FILTERS: dict[str, Callable[[GroupView], Any]] = {
    "group-name": lambda v: v.group.name,
    "group-id": lambda v: v.group.id,
    "description": lambda v: v.group.description,
    "owner-id": lambda v: v.group.account_id,
    "vpc-id": lambda v: v.vpc_id,
    **_rule_filters("ip-permission", lambda v: v.ingress),
    **_rule_filters("egress.ip-permission", lambda v: v.egress),
}


def group_views(s: Session, account: str) -> list[GroupView]:
    groups = s.scalars(
        select(Ec2SecurityGroup)
        .where(Ec2SecurityGroup.account_id == account)
        .order_by(Ec2SecurityGroup.id)
    ).all()
    found = s.scalars(
        select(Ec2SecurityGroupRule)
        .join(Ec2SecurityGroup, Ec2SecurityGroup.id == Ec2SecurityGroupRule.group_id)
        .where(Ec2SecurityGroup.account_id == account)
    ).all()
    names = peer_names(s, found)
    marker = s.get(Ec2AccountVpc, account)
    default_vpc = marker.default_vpc_id if marker is not None else None
    by_group: dict[str, GroupView] = {
        g.id: GroupView(g, [], [], names, g.vpc_id or default_vpc) for g in groups
    }
    for r in found:
        view = by_group[r.group_id]
        (view.egress if r.egress else view.ingress).append(r)
    return list(by_group.values())


def group_out(v: GroupView, tags: dict[str, str], region: str) -> Result:
    g = v.group
    return {
        "GroupId": g.id,
        "GroupName": g.name,
        "Description": g.description,
        "OwnerId": g.account_id,
        "SecurityGroupArn": f"arn:aws:ec2:{region}:{g.account_id}:security-group/{g.id}",
        "IpPermissions": rules.ip_permissions(v.ingress, v.names),
        "IpPermissionsEgress": rules.ip_permissions(v.egress, v.names),
        "Tags": tag_list(tags),
        **({"VpcId": v.vpc_id} if v.vpc_id else {}),
    }
