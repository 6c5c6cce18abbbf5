"""Network ACLs: the ACLs, their ordered entries and which ACL each subnet uses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id, new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import cidrs, errors
from mallee.services.ec2.default_vpc import default_vpc_ready
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tags_for,
)
from mallee.services.ec2.vpc_rows import (
    LAST_RULE,
    checked_id,
    final_deny,
    ids_param,
    missing_ids,
    now,
    owned,
)
from mallee.services.ec2.vpc_views import acl_out
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import (
    Ec2NetworkAcl,
    Ec2NetworkAclAssociation,
    Ec2NetworkAclEntry,
    Ec2Vpc,
)

_NAMED_PROTOCOLS = {"tcp": "6", "udp": "17", "icmp": "1", "all": "-1"}


def _check_acl(s: Session, account: str, acl_id: str) -> None:
    owned(s, Ec2NetworkAcl, account, acl_id, "acl")


register_resource_check("network-acl", _check_acl)


@dataclass(frozen=True, slots=True)
class _View:
    acl: Ec2NetworkAcl
    entries: list[Ec2NetworkAclEntry]
    associations: list[Ec2NetworkAclAssociation]


FILTERS: dict[str, Callable[[_View], Any]] = {
    "network-acl-id": lambda v: v.acl.id,
    "vpc-id": lambda v: v.acl.vpc_id,
    "default": lambda v: v.acl.is_default,
    "owner-id": lambda v: v.acl.account_id,
    "association.association-id": lambda v: [a.id for a in v.associations],
    "association.network-acl-id": lambda v: [a.acl_id for a in v.associations],
    "association.subnet-id": lambda v: [a.subnet_id for a in v.associations],
    "entry.cidr": lambda v: [e.cidr for e in v.entries],
    "entry.egress": lambda v: [e.egress for e in v.entries],
    "entry.protocol": lambda v: [e.protocol for e in v.entries],
    "entry.rule-action": lambda v: [e.rule_action for e in v.entries],
    "entry.rule-number": lambda v: [e.rule_number for e in v.entries],
}


def create_network_acl(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        vpc = owned(s, Ec2Vpc, account, vpc_id, "vpc")
        acl = Ec2NetworkAcl(
            id=new_id("acl"), vpc_id=vpc.id, account_id=account, is_default=False, created_at=now()
        )
        s.add(acl)
        s.flush()
        # A new ACL denies everything until entries allow.
        entries = [final_deny(acl.id, False), final_deny(acl.id, True)]
        s.add_all(entries)
        specs = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs, {"network-acl": [acl.id]})
        tags = tags_for(s, account, [acl.id]).get(acl.id, {})
        bump_network(s)
        return {"NetworkAcl": acl_out(acl, entries, [], tags)}


def delete_network_acl(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    acl_id = checked_id(params.get("NetworkAclId"), "acl", "NetworkAclId")
    with rt.store.session() as s:
        acl = owned(s, Ec2NetworkAcl, ctx.principal.account_id, acl_id, "acl")
        if acl.is_default:
            raise errors.default_acl_undeletable(acl.id)
        used = s.scalar(
            select(Ec2NetworkAclAssociation.id)
            .where(Ec2NetworkAclAssociation.acl_id == acl.id)
            .limit(1)
        )
        if used is not None:
            raise errors.has_dependencies("networkAcl", acl.id)
        delete_all_tags(s, [acl.id])
        s.delete(acl)
        bump_network(s)
    return {}


def describe_network_acls(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    default_vpc_ready(rt, account)
    ids = ids_param(params, "NetworkAclIds", "acl")
    with rt.store.read() as s:
        query = (
            select(Ec2NetworkAcl)
            .where(Ec2NetworkAcl.account_id == account)
            .order_by(Ec2NetworkAcl.id)
        )
        if ids:
            query = query.where(Ec2NetworkAcl.id.in_(ids))
        acls = list(s.scalars(query).all())
        acl_ids = [a.id for a in acls]
        entries: dict[str, list[Ec2NetworkAclEntry]] = defaultdict(list)
        associations: dict[str, list[Ec2NetworkAclAssociation]] = defaultdict(list)
        for start in range(0, len(acl_ids), 500):
            chunk = acl_ids[start : start + 500]
            for e in s.scalars(
                select(Ec2NetworkAclEntry).where(Ec2NetworkAclEntry.acl_id.in_(chunk))
            ):
                entries[e.acl_id].append(e)
            for a in s.scalars(
                select(Ec2NetworkAclAssociation).where(Ec2NetworkAclAssociation.acl_id.in_(chunk))
            ):
                associations[a.acl_id].append(a)
        tags = tags_for(s, account, acl_ids, "network-acl")
    missing_ids(ids, set(acl_ids), "acl")
    views = [_View(a, entries[a.id], associations[a.id]) for a in acls]
    filters = parse_filters(params.get("Filters"), FILTERS)
    chosen = [v for v in views if matches(filters, lookup(FILTERS, v), tags.get(v.acl.id, {}))]
    items, token = page(chosen, params, key=lambda v: v.acl.id)
    out: Result = {
        "NetworkAcls": [
            acl_out(v.acl, v.entries, v.associations, tags.get(v.acl.id, {})) for v in items
        ]
    }
    if token:
        out["NextToken"] = token
    return out


# Entries ------------------------------------------------------------------------------------


def _rule_number(params: Params) -> int:
    raw = params.get("RuleNumber")
    try:
        number = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise errors.invalid_parameter("ruleNumber", raw) from err
    if not 1 <= number < LAST_RULE:
        raise errors.invalid_parameter(
            "ruleNumber", raw, "Rule number must be between 1 and 32766."
        )
    return number


def _protocol(raw: Any) -> str:
    text = str(raw if raw is not None else "").lower()
    text = _NAMED_PROTOCOLS.get(text, text)
    # "0" (HOPOPT) is refused: an iptables `-p 0` matches every protocol, so an entry meant for
    # one odd protocol would allow or deny all of them.
    if text != "-1" and not (text.isdigit() and 1 <= int(text) <= 255):
        raise errors.invalid_parameter("protocol", raw)
    return text


def _icmp_field(icmp: dict[str, Any], key: str) -> int:
    """-1 (any) or an ICMP type/code byte; anything else would reach iptables and fail there."""
    raw = icmp.get(key)
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as err:
        raise errors.invalid_parameter(f"icmpTypeCode.{key.lower()}", raw) from err
    if not -1 <= value <= 255:
        raise errors.invalid_parameter(f"icmpTypeCode.{key.lower()}", raw)
    return value


def _entry(acl_id: str, params: Params) -> Ec2NetworkAclEntry:
    if params.get("Ipv6CidrBlock"):
        raise errors.unsupported_operation("IPv6 CIDR blocks are not supported in this region.")
    raw_cidr = params.get("CidrBlock")
    if not raw_cidr:
        raise errors.missing("cidrBlock")
    block = cidrs.parse(str(raw_cidr))
    if block is None:
        raise errors.invalid_parameter("cidrBlock", raw_cidr)
    action = str(params.get("RuleAction") or "")
    if action not in ("allow", "deny"):
        raise errors.invalid_parameter("ruleAction", action)
    protocol = _protocol(params.get("Protocol"))
    entry = Ec2NetworkAclEntry(
        acl_id=acl_id,
        egress=bool(params.get("Egress")),
        rule_number=_rule_number(params),
        protocol=protocol,
        rule_action=action,
        cidr=str(block),
    )
    if protocol in ("6", "17"):
        ports = params.get("PortRange") or {}
        low, high = ports.get("From"), ports.get("To")
        if low is None or high is None:
            raise errors.missing("portRange")
        if not (0 <= int(low) <= int(high) <= 65535):
            raise errors.invalid_parameter("portRange", f"{low}-{high}")
        entry.port_from, entry.port_to = int(low), int(high)
    elif protocol == "1":
        icmp = params.get("IcmpTypeCode") or {}
        if icmp.get("Type") is None or icmp.get("Code") is None:
            raise errors.missing("icmpTypeCode")
        entry.icmp_type, entry.icmp_code = _icmp_field(icmp, "Type"), _icmp_field(icmp, "Code")
    return entry


def _find(s: Session, acl_id: str, egress: bool, number: int) -> Ec2NetworkAclEntry | None:
    return s.get(Ec2NetworkAclEntry, (acl_id, egress, number))


def create_network_acl_entry(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    acl_id = checked_id(params.get("NetworkAclId"), "acl", "NetworkAclId")
    with rt.store.session() as s:
        acl = owned(s, Ec2NetworkAcl, ctx.principal.account_id, acl_id, "acl")
        s.refresh(acl, with_for_update=True)
        entry = _entry(acl.id, params)
        if _find(s, acl.id, entry.egress, entry.rule_number) is not None:
            raise errors.acl_entry_exists(entry.rule_number)
        s.add(entry)
        bump_network(s)
    return {}


def replace_network_acl_entry(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    acl_id = checked_id(params.get("NetworkAclId"), "acl", "NetworkAclId")
    with rt.store.session() as s:
        acl = owned(s, Ec2NetworkAcl, ctx.principal.account_id, acl_id, "acl")
        entry = _entry(acl.id, params)
        old = _find(s, acl.id, entry.egress, entry.rule_number)
        if old is None:
            raise errors.acl_entry_not_found(entry.rule_number, entry.egress, acl.id)
        s.delete(old)
        s.flush()
        s.add(entry)
        bump_network(s)
    return {}


def delete_network_acl_entry(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    acl_id = checked_id(params.get("NetworkAclId"), "acl", "NetworkAclId")
    number, egress = _rule_number(params), bool(params.get("Egress"))
    with rt.store.session() as s:
        acl = owned(s, Ec2NetworkAcl, ctx.principal.account_id, acl_id, "acl")
        old = _find(s, acl.id, egress, number)
        if old is None:
            raise errors.acl_entry_not_found(number, egress, acl.id)
        s.delete(old)
        bump_network(s)
    return {}


def replace_network_acl_association(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    association_id = str(params.get("AssociationId") or "")
    acl_id = checked_id(params.get("NetworkAclId"), "acl", "NetworkAclId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        if not is_id(association_id, "aclassoc"):
            raise errors.vpc_resource_malformed("aclassoc", association_id)
        a = s.get(Ec2NetworkAclAssociation, association_id)
        old = s.get(Ec2NetworkAcl, a.acl_id) if a is not None else None
        if a is None or old is None or old.account_id != account:
            raise errors.vpc_resource_not_found("aclassoc", association_id)
        acl = owned(s, Ec2NetworkAcl, account, acl_id, "acl")
        if acl.vpc_id != old.vpc_id:
            raise errors.invalid_value(
                f"Network ACL {acl.id} and association {a.id} belong to different networks"
            )
        subnet_id = a.subnet_id
        s.delete(a)
        s.flush()
        new = Ec2NetworkAclAssociation(id=new_id("aclassoc"), acl_id=acl.id, subnet_id=subnet_id)
        s.add(new)
        bump_network(s)
    return {"NewAssociationId": new.id}


OPERATIONS: Operations = {
    "CreateNetworkAcl": create_network_acl,
    "DeleteNetworkAcl": delete_network_acl,
    "DescribeNetworkAcls": describe_network_acls,
    "CreateNetworkAclEntry": create_network_acl_entry,
    "ReplaceNetworkAclEntry": replace_network_acl_entry,
    "DeleteNetworkAclEntry": delete_network_acl_entry,
    "ReplaceNetworkAclAssociation": replace_network_acl_association,
}
