"""EC2 security groups (EDGE networking): groups, their rules, and instance membership.

Every write here also bumps the network generation in the same transaction: node agents poll
that number and rebuild their iptables chains from these rows (see store.tables.network).

Rows the data plane reads:
- a CIDR peer is `cidr`; a group peer is `peer_group_id` + `peer_account_id` (its owner), and
  the default group's "from itself" rule has `peer_group_id` = its own id;
- protocol is tcp/udp/icmp/-1 or an IP protocol number; ports are None unless tcp/udp (range)
  or icmp (type/code, -1 = any);
- every group starts with egress -1 to 0.0.0.0/0, as AWS's VPC groups do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.ids import is_id, new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2 import security_group_rules as rules
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.security_group_views import (
    FILTERS,
    GroupView,
    group_out,
    group_views,
    peer_names,
    revoked_out,
    rule_out,
)
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tag_list,
    tags_for,
)
from mallee.services.ec2.vpc_rows import owned as owned_vpc
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.interfaces import Ec2NetworkInterfaceGroup
from mallee.store.tables.network import (
    Ec2InstanceGroup,
    Ec2SecurityGroup,
    Ec2SecurityGroupRule,
    bump_network,
)
from mallee.store.tables.vpc import Ec2Vpc

DEFAULT = "default"
DEFAULT_DESCRIPTION = "default group"
ANYWHERE = "0.0.0.0/0"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _named(s: Session, account: str, name: str, vpc_key: str = "") -> Ec2SecurityGroup | None:
    """A group by name: EDGE's (the default VPC's, `vpc_key` "") unless a VPC is given."""
    return s.scalar(
        select(Ec2SecurityGroup).where(
            Ec2SecurityGroup.account_id == account,
            Ec2SecurityGroup.vpc_id == vpc_key,
            Ec2SecurityGroup.name == name,
        )
    )


def _rule_row(group_id: str, egress: bool, r: rules.Rule) -> Ec2SecurityGroupRule:
    return Ec2SecurityGroupRule(
        id=new_id("sgr"),
        group_id=group_id,
        egress=egress,
        protocol=r.protocol,
        from_port=r.from_port,
        to_port=r.to_port,
        cidr=r.cidr,
        peer_group_id=r.peer_group_id,
        peer_account_id=r.peer_account_id,
        description=r.description,
    )


def _new_group(
    s: Session, account: str, name: str, description: str, vpc_key: str = ""
) -> Ec2SecurityGroup:
    group = Ec2SecurityGroup(
        id=new_id("sg"),
        account_id=account,
        vpc_id=vpc_key,
        name=name,
        description=description,
        created_at=_now(),
    )
    s.add(group)
    s.flush()
    s.add(_rule_row(group.id, True, rules.Rule("-1", None, None, cidr=ANYWHERE)))
    if name == DEFAULT:
        # EC2's default group: its members reach each other on every protocol.
        own = rules.Rule("-1", None, None, peer_group_id=group.id, peer_account_id=account)
        s.add(_rule_row(group.id, False, own))
    s.flush()
    return group


def ensure_default(s: Session, account: str) -> Ec2SecurityGroup:
    """The account's `default` group, created on first need (safe against a racing creator)."""
    found = _named(s, account, DEFAULT)
    if found is not None:
        return found
    try:
        with s.begin_nested():
            group = _new_group(s, account, DEFAULT, DEFAULT_DESCRIPTION)
    except IntegrityError:
        # Another request created it first; its row is committed, so read that one.
        found = _named(s, account, DEFAULT)
        if found is None:
            raise
        return found
    bump_network(s)
    return group


def default_in(s: Session, account: str, vpc_key: str) -> Ec2SecurityGroup:
    """The `default` group of a VPC: EDGE's for "" (made on first need), a user VPC's
    (made with it)."""
    if not vpc_key:
        return ensure_default(s, account)
    found = _named(s, account, DEFAULT, vpc_key)
    if found is None:
        raise errors.not_found("security-group", DEFAULT)
    return found


def add_vpc_default(s: Session, account: str, vpc_id: str) -> Ec2SecurityGroup:
    """A new VPC's `default` group (CreateVpc, in its transaction)."""
    group = _new_group(s, account, DEFAULT, "default VPC security group", vpc_id)
    bump_network(s)
    return group


def drop_vpc_groups(s: Session, vpc_id: str) -> None:
    """DeleteVpc: its default group goes with it; any other group is a DependencyViolation."""
    groups = s.scalars(select(Ec2SecurityGroup).where(Ec2SecurityGroup.vpc_id == vpc_id)).all()
    for group in groups:
        if group.name != DEFAULT:
            raise errors.has_dependencies("vpc", vpc_id)
    for group in groups:
        # Its subnets are gone, so its members are terminated instances, kept a while.
        s.execute(delete(Ec2InstanceGroup).where(Ec2InstanceGroup.group_id == group.id))
        s.execute(delete(Ec2SecurityGroupRule).where(Ec2SecurityGroupRule.group_id == group.id))
        delete_all_tags(s, [group.id])
        s.delete(group)
    if groups:
        bump_network(s)


def own_by_id(s: Session, account: str, group_id: str) -> Ec2SecurityGroup:
    if not is_id(group_id, "sg"):
        raise errors.malformed_group_id(group_id)
    group = s.get(Ec2SecurityGroup, group_id)
    if group is None or group.account_id != account:
        raise errors.not_found("security-group", group_id)
    return group


def own_by_name(s: Session, account: str, name: str) -> Ec2SecurityGroup:
    group = ensure_default(s, account) if name == DEFAULT else _named(s, account, name)
    if group is None:
        raise errors.not_found("security-group", name)
    return group


def launch_groups(
    s: Session, account: str, names: Iterable[str], ids: Iterable[str]
) -> list[Ec2SecurityGroup]:
    """RunInstances' SecurityGroups (names) then SecurityGroupIds, in the order given and
    without repeats; the account's default group when none is given."""
    found = [own_by_name(s, account, str(n)) for n in names]
    found += [own_by_id(s, account, str(i)) for i in ids]
    unique = list({g.id: g for g in found}.values())
    return unique or [ensure_default(s, account)]


def group_refs(groups: Sequence[Ec2SecurityGroup]) -> list[dict[str, str]]:
    """What an instance's `security_groups` column holds and its Describe views show."""
    return [{"GroupName": g.name, "GroupId": g.id} for g in groups]


def add_members(s: Session, instance_ids: Iterable[str], group_ids: Sequence[str]) -> None:
    """Make new instances members of `group_ids` (position = the order given)."""
    s.add_all(
        Ec2InstanceGroup(instance_id=iid, group_id=gid, position=pos)
        for iid in instance_ids
        for pos, gid in enumerate(group_ids)
    )
    bump_network(s)


def set_membership(s: Session, instance_id: str, group_ids: Sequence[str]) -> None:
    """Replace an instance's groups (ModifyInstanceAttribute groupSet)."""
    s.execute(delete(Ec2InstanceGroup).where(Ec2InstanceGroup.instance_id == instance_id))
    s.flush()
    add_members(s, [instance_id], group_ids)


def _peer_group(s: Session, account: str, peer: rules.Peer, vpc_key: str) -> Ec2SecurityGroup:
    """A rule's peer group: by id, or by name among the groups of the rule's own group's VPC
    (`vpc_key`, "" for EDGE's), as AWS looks names up."""
    if peer.group_id:
        if not is_id(peer.group_id, "sg"):
            raise errors.malformed_group_id(peer.group_id)
        group = s.get(Ec2SecurityGroup, peer.group_id)
        # Another account's group is named with its owner, as EC2-Classic required.
        owner = peer.user_id or account
        if group is None or group.account_id != owner:
            raise errors.not_found("security-group", peer.group_id)
        return group
    owner, name = peer.user_id or account, str(peer.group_name)
    group = _named(s, owner, name, vpc_key)
    if group is None and name == DEFAULT and not vpc_key and s.get(IamAccount, owner) is not None:
        group = ensure_default(s, owner)
    if group is None:
        raise errors.not_found("security-group", name)
    return group


def resolve(
    s: Session, account: str, specs: Iterable[rules.PermissionSpec], vpc_key: str = ""
) -> list[rules.Rule]:
    """One Rule per (permission, peer), peer groups looked up (NotFound when absent), names
    within the VPC `vpc_key` of the group the rules are for."""
    out = []
    for spec in specs:
        for peer in spec.peers:
            ports = (spec.protocol, spec.from_port, spec.to_port)
            if peer.cidr:
                out.append(rules.Rule(*ports, cidr=peer.cidr, description=peer.description))
                continue
            g = _peer_group(s, account, peer, vpc_key)
            out.append(
                rules.Rule(
                    *ports,
                    peer_group_id=g.id,
                    peer_account_id=g.account_id,
                    description=peer.description,
                )
            )
    return out


def _same_network(s: Session, group: Ec2SecurityGroup, wanted: list[rules.Rule]) -> None:
    """A rule may name only a group of its own group's network (one VPC, or EDGE's): a group
    of another VPC or account would let its members' addresses in where they cannot route
    (AWS's answer, without VPC peering). Revoking stays open, to remove what older rows hold."""
    for r in wanted:
        peer = s.get(Ec2SecurityGroup, r.peer_group_id) if r.peer_group_id else None
        if peer is None or peer.vpc_id == group.vpc_id:
            continue
        raise ServiceError(
            "InvalidGroup.NotFound",
            "You have specified two resources that belong to different networks.",
        )


def _check_group(s: Session, account_id: str, resource_id: str) -> None:
    group = s.get(Ec2SecurityGroup, resource_id)
    if group is None or group.account_id != account_id:
        raise errors.not_found("security-group", resource_id)


register_resource_check("security-group", _check_group)


def _check_text(value: Any, param: str) -> str:
    text = "" if value is None else str(value)
    if not text:
        raise errors.missing(param)
    if len(text) > 255:
        raise errors.invalid_parameter(param, text, "Length exceeds maximum of 255 characters.")
    if not rules.text_ok(text):
        raise errors.invalid_parameter(param, text, f"Valid characters: {rules.TEXT_CHARS}")
    return text


def _check_new(params: Params) -> tuple[str, str]:
    name = _check_text(params.get("GroupName"), "GroupName")
    description = _check_text(params.get("Description"), "GroupDescription")
    if name.lower().startswith("sg-"):
        raise errors.invalid_parameter(
            "GroupName", name, "Group names may not be in the format sg-*."
        )
    if name.lower() == DEFAULT:
        raise errors.group_reserved(name)
    return name, description


def _vpc_key(s: Session, account: str, params: Params) -> str:
    """CreateSecurityGroup's VpcId: "" for the default VPC (EDGE's groups), else the
    caller's VPC."""
    vpc_id = params.get("VpcId")
    if not vpc_id:
        return ""
    vpc = owned_vpc(s, Ec2Vpc, account, str(vpc_id), "vpc")
    return "" if vpc.is_default else vpc.id


def _target(s: Session, account: str, params: Params, egress: bool) -> Ec2SecurityGroup:
    """The group an Authorize/Revoke acts on, locked so concurrent edits of it serialise."""
    group_id, name = params.get("GroupId"), params.get("GroupName")
    if group_id:
        group = own_by_id(s, account, str(group_id))
    elif name and not egress:
        group = own_by_name(s, account, str(name))
    else:
        wanted = "groupId" if egress else "groupName or groupId"
        raise errors.missing(wanted)
    s.refresh(group, with_for_update=True)
    return group


def _rules_of(s: Session, group_id: str, egress: bool) -> list[Ec2SecurityGroupRule]:
    return list(
        s.scalars(
            select(Ec2SecurityGroupRule).where(
                Ec2SecurityGroupRule.group_id == group_id, Ec2SecurityGroupRule.egress == egress
            )
        ).all()
    )


def _chosen(
    views: list[GroupView], params: Params, tags: dict[str, dict[str, str]]
) -> list[GroupView]:
    filters = parse_filters(params.get("Filters"), FILTERS)
    names = [str(n) for n in params.get("GroupNames") or []]
    ids = [str(i) for i in params.get("GroupIds") or []]
    for gid in ids:
        if not is_id(gid, "sg"):
            raise errors.malformed_group_id(gid)
    # GroupNames name the default VPC's groups (EDGE's), as AWS: a user VPC's need ids.
    have_names = {v.group.name for v in views if not v.group.vpc_id}
    have_ids = {v.group.id for v in views}
    for ref in (*[n for n in names if n not in have_names], *[i for i in ids if i not in have_ids]):
        raise errors.not_found("security-group", ref)
    return [
        v
        for v in views
        if (not names or (v.group.name in names and not v.group.vpc_id))
        and (not ids or v.group.id in ids)
        and matches(filters, lookup(FILTERS, v), tags.get(v.group.id, {}))
    ]


def _check_deletable(s: Session, group: Ec2SecurityGroup) -> None:
    if group.name == DEFAULT:
        raise errors.default_group_undeletable(group.id, DEFAULT)
    member = s.scalar(
        select(Ec2InstanceGroup.instance_id)
        .join(Ec2Instance, Ec2Instance.id == Ec2InstanceGroup.instance_id)
        .where(Ec2InstanceGroup.group_id == group.id, Ec2Instance.state != "terminated")
        .limit(1)
    )
    referenced = s.scalar(
        select(Ec2SecurityGroupRule.id)
        .where(
            Ec2SecurityGroupRule.peer_group_id == group.id,
            Ec2SecurityGroupRule.group_id != group.id,
        )
        .limit(1)
    )
    interface = s.scalar(
        select(Ec2NetworkInterfaceGroup.interface_id)
        .where(Ec2NetworkInterfaceGroup.group_id == group.id)
        .limit(1)
    )
    if member is not None or referenced is not None or interface is not None:
        raise errors.dependency_violation(group.id)


def _default_exists(rt: Runtime, account: str) -> None:
    with rt.store.read() as s:
        if _named(s, account, DEFAULT) is not None:
            return
    with rt.store.session() as s:
        ensure_default(s, account)


def create_security_group(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name, description = _check_new(params)
    account = ctx.principal.account_id
    with rt.store.session() as s:
        ensure_default(s, account)
        vpc_key = _vpc_key(s, account, params)
        # Names are case-insensitive in EC2 and unique per VPC; the table's unique key only
        # catches exact ones.
        taken = s.scalar(
            select(Ec2SecurityGroup.id).where(
                Ec2SecurityGroup.account_id == account,
                Ec2SecurityGroup.vpc_id == vpc_key,
                func.lower(Ec2SecurityGroup.name) == name.lower(),
            )
        )
        if taken is not None:
            raise errors.duplicate_group(name)
        try:
            with s.begin_nested():
                group = _new_group(s, account, name, description, vpc_key)
        except IntegrityError as err:
            raise errors.duplicate_group(name) from err
        specs = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs, {"security-group": [group.id]})
        tags = tags_for(s, account, [group.id]).get(group.id, {})
        bump_network(s)
    region = rt.settings.region
    out: Result = {
        "GroupId": group.id,
        "SecurityGroupArn": f"arn:aws:ec2:{region}:{account}:security-group/{group.id}",
    }
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def delete_security_group(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    group_id, name = params.get("GroupId"), params.get("GroupName")
    if not group_id and not name:
        raise errors.missing("groupName or groupId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        ensure_default(s, account)
        if group_id:
            group = own_by_id(s, account, str(group_id))
        else:
            group = own_by_name(s, account, str(name))
        _check_deletable(s, group)
        # Terminated instances keep their rows a while; their membership goes with the group.
        s.execute(delete(Ec2InstanceGroup).where(Ec2InstanceGroup.group_id == group.id))
        s.execute(delete(Ec2SecurityGroupRule).where(Ec2SecurityGroupRule.group_id == group.id))
        delete_all_tags(s, [group.id])
        s.delete(group)
        bump_network(s)
        return {"Return": True, "GroupId": group.id}


def describe_security_groups(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    _default_exists(rt, account)
    with rt.store.read() as s:
        views = group_views(s, account)
        tags = tags_for(s, account, [v.group.id for v in views], "security-group")
    chosen = _chosen(views, params, tags)
    items, token = page(chosen, params, key=lambda v: v.group.id)
    region = rt.settings.region
    out: Result = {
        "SecurityGroups": [group_out(v, tags.get(v.group.id, {}), region) for v in items]
    }
    if token:
        out["NextToken"] = token
    return out


def authorize_security_group_ingress(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _authorize(rt, ctx, params, egress=False)


def authorize_security_group_egress(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _authorize(rt, ctx, params, egress=True)


def revoke_security_group_ingress(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _revoke(rt, ctx, params, egress=False)


def revoke_security_group_egress(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _revoke(rt, ctx, params, egress=True)


def _authorize(rt: Runtime, ctx: RequestContext, params: Params, *, egress: bool) -> Result:
    # Every permission is checked before anything is written: all or nothing.
    specs = rules.parse_permissions(params)
    account = ctx.principal.account_id
    with rt.store.session() as s:
        ensure_default(s, account)
        group = _target(s, account, params, egress)
        wanted = resolve(s, account, specs, group.vpc_id)
        _same_network(s, group, wanted)
        seen = {rules.rule_key(r) for r in _rules_of(s, group.id, egress)}
        for r in wanted:
            if r.key() in seen:
                raise rules.duplicate(r)
            seen.add(r.key())
        rows = [_rule_row(group.id, egress, r) for r in wanted]
        s.add_all(rows)
        s.flush()
        ids = [r.id for r in rows]
        specs_tags = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs_tags, {"security-group-rule": ids})
        tags = tags_for(s, account, ids) if specs_tags else {}
        bump_network(s)
        out = [rule_out(group, row, tags.get(row.id, {})) for row in rows]
    return {"Return": True, "SecurityGroupRules": out}


def _revoke(rt: Runtime, ctx: RequestContext, params: Params, *, egress: bool) -> Result:
    by_id = [str(i) for i in params.get("SecurityGroupRuleIds") or []]
    if by_id and any(params.get(k) for k in ("IpPermissions", "IpProtocol", "CidrIp")):
        raise errors.invalid_combination(
            "The parameter SecurityGroupRuleIds cannot be used with rule properties"
        )
    specs = [] if by_id else rules.parse_permissions(params)
    account = ctx.principal.account_id
    with rt.store.session() as s:
        ensure_default(s, account)
        group = _target(s, account, params, egress)
        existing = _rules_of(s, group.id, egress)
        unknown: list[rules.Rule] = []
        if by_id:
            gone = _pick_by_id(existing, by_id)
        else:
            gone, unknown = _pick(existing, resolve(s, account, specs, group.vpc_id))
        for row in gone:
            s.delete(row)
        delete_all_tags(s, [r.id for r in gone])
        bump_network(s)
        out: Result = {
            "Return": True,
            "RevokedSecurityGroupRules": [revoked_out(r) for r in gone],
        }
        if unknown:
            out["UnknownIpPermissions"] = rules.ip_permissions(unknown, peer_names(s, unknown))
    return out


def describe_security_group_rules(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), _RULE_FILTERS)
    wanted = [str(i) for i in params.get("SecurityGroupRuleIds") or []]
    account = ctx.principal.account_id
    _default_exists(rt, account)
    with rt.store.read() as s:
        pairs = s.execute(
            select(Ec2SecurityGroupRule, Ec2SecurityGroup)
            .join(Ec2SecurityGroup, Ec2SecurityGroup.id == Ec2SecurityGroupRule.group_id)
            .where(Ec2SecurityGroup.account_id == account)
            .order_by(Ec2SecurityGroupRule.id)
        ).all()
        tags = tags_for(s, account, [r.id for r, _ in pairs])
    have = {r.id for r, _ in pairs}
    for rule_id in wanted:
        if rule_id not in have:
            raise errors.rule_id_not_found(rule_id)
    chosen = [
        (r, g)
        for r, g in pairs
        if (not wanted or r.id in wanted)
        and matches(filters, lookup(_RULE_FILTERS, r), tags.get(r.id, {}))
    ]
    items, token = page(chosen, params, key=lambda pair: pair[0].id)
    out: Result = {"SecurityGroupRules": [rule_out(g, r, tags.get(r.id, {})) for r, g in items]}
    if token:
        out["NextToken"] = token
    return out


_RULE_FILTERS: dict[str, Callable[[Ec2SecurityGroupRule], Any]] = {
    "group-id": lambda r: r.group_id,
    "security-group-rule-id": lambda r: r.id,
}


def _pick_by_id(
    existing: Sequence[Ec2SecurityGroupRule], ids: Sequence[str]
) -> list[Ec2SecurityGroupRule]:
    by_id = {r.id: r for r in existing}
    for rule_id in ids:
        if rule_id not in by_id:
            raise errors.rule_id_not_found(rule_id)
    return [by_id[i] for i in dict.fromkeys(ids)]


def _pick(
    existing: Sequence[Ec2SecurityGroupRule], wanted: Sequence[rules.Rule]
) -> tuple[list[Ec2SecurityGroupRule], list[rules.Rule]]:
    """(rows to delete, requested rules no row matches). As for EC2's default VPC, the rules
    that exist are revoked and the others reported; when none exists it is NotFound."""
    by_key = {rules.rule_key(r): r for r in existing}
    gone: dict[str, Ec2SecurityGroupRule] = {}
    unknown: list[rules.Rule] = []
    for r in wanted:
        row = by_key.get(r.key())
        if row is None:
            unknown.append(r)
        else:
            gone[row.id] = row
    if not gone:
        raise errors.permission_not_found()
    return list(gone.values()), unknown


OPERATIONS: Operations = {
    "AuthorizeSecurityGroupEgress": authorize_security_group_egress,
    "AuthorizeSecurityGroupIngress": authorize_security_group_ingress,
    "CreateSecurityGroup": create_security_group,
    "DeleteSecurityGroup": delete_security_group,
    "DescribeSecurityGroupRules": describe_security_group_rules,
    "DescribeSecurityGroups": describe_security_groups,
    "RevokeSecurityGroupEgress": revoke_security_group_egress,
    "RevokeSecurityGroupIngress": revoke_security_group_ingress,
}
