"""DHCP option sets: create, delete, describe, and associate one with a VPC."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.default_vpc import default_vpc_ready
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tags_for,
)
from mallee.services.ec2.vpc_rows import checked_id, ids_param, missing_ids, now, owned
from mallee.services.ec2.vpc_views import dhcp_out
from mallee.store.tables.network import bump_network
from mallee.store.tables.vpc import Ec2DhcpOptions, Ec2Vpc

KEYS = (
    "domain-name",
    "domain-name-servers",
    "ntp-servers",
    "netbios-name-servers",
    "netbios-node-type",
)
# AWS's limits on values per key.
_MAX_VALUES = {"domain-name-servers": 4, "ntp-servers": 4, "netbios-name-servers": 4}

FILTERS: dict[str, Callable[[Ec2DhcpOptions], Any]] = {
    "dhcp-options-id": lambda d: d.id,
    "key": lambda d: list(d.options),
    "value": lambda d: [v for values in d.options.values() for v in values],
    "owner-id": lambda d: d.account_id,
}


def _check_dopt(s: Session, account: str, dopt_id: str) -> None:
    owned(s, Ec2DhcpOptions, account, dopt_id, "dopt")


register_resource_check("dhcp-options", _check_dopt)


_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _domain(text: str) -> bool:
    names = text.split(" ")
    return len(text) <= 255 and all(
        name and all(_LABEL.fullmatch(label) for label in name.removesuffix(".").split("."))
        for name in names
    )


def _ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _valid(key: str, value: str) -> bool:
    """What each option may hold (AWS's rules): rows reach dnsmasq's command line, so
    nothing else is stored."""
    if key == "domain-name":
        return _domain(value)  # several, space-separated, as AWS takes them
    if key == "domain-name-servers":
        return value == "AmazonProvidedDNS" or _ipv4(value)
    if key == "netbios-node-type":
        return value in ("1", "2", "4", "8")
    return _ipv4(value)


def _options(raw: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in raw or []:
        key = str(item.get("Key") or "")
        values = [str(v) for v in item.get("Values") or []]
        if key not in KEYS:
            raise errors.invalid_parameter("dhcpConfiguration.Key", key)
        if not values:
            raise errors.invalid_parameter("dhcpConfiguration.Value", "", f"{key} needs a value.")
        if len(values) > _MAX_VALUES.get(key, 1 if key == "netbios-node-type" else 8):
            raise errors.invalid_parameter("dhcpConfiguration.Value", ",".join(values))
        if key in out:
            raise errors.invalid_parameter("dhcpConfiguration.Key", key, "Duplicate key.")
        for value in values:
            if not _valid(key, value):
                raise errors.invalid_parameter("dhcpConfiguration.Value", value)
        out[key] = values
    if not out:
        raise errors.missing("DhcpConfiguration")
    return out


def create_dhcp_options(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    options = _options(params.get("DhcpConfigurations"))
    account = ctx.principal.account_id
    with rt.store.session() as s:
        d = Ec2DhcpOptions(id=new_id("dopt"), account_id=account, options=options, created_at=now())
        s.add(d)
        s.flush()
        specs = params.get("TagSpecifications")
        apply_tag_specifications(s, account, specs, {"dhcp-options": [d.id]})
        tags = tags_for(s, account, [d.id]).get(d.id, {})
        return {"DhcpOptions": dhcp_out(d, tags)}


def delete_dhcp_options(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    dopt_id = checked_id(params.get("DhcpOptionsId"), "dopt", "DhcpOptionsId")
    with rt.store.session() as s:
        d = owned(s, Ec2DhcpOptions, ctx.principal.account_id, dopt_id, "dopt")
        used = s.scalar(select(Ec2Vpc.id).where(Ec2Vpc.dhcp_options_id == d.id).limit(1))
        if used is not None:
            raise errors.has_dependencies("dhcpOptions", d.id)
        delete_all_tags(s, [d.id])
        s.delete(d)
    return {}


def associate_dhcp_options(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    raw = str(params.get("DhcpOptionsId") or "")
    vpc_id = checked_id(params.get("VpcId"), "vpc", "VpcId")
    account = ctx.principal.account_id
    with rt.store.session() as s:
        # "default" detaches any set: the VPC's instances get the cloud's own DHCP answers.
        dopt_id = (
            "default" if raw == "default" else owned(s, Ec2DhcpOptions, account, raw, "dopt").id
        )
        vpc = owned(s, Ec2Vpc, account, vpc_id, "vpc")
        s.execute(
            update(Ec2Vpc)
            .where(Ec2Vpc.id == vpc.id)
            .values(dhcp_options_id=dopt_id)
            .execution_options(synchronize_session=False)
        )
        bump_network(s)
    return {}


def describe_dhcp_options(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    default_vpc_ready(rt, account)
    ids = ids_param(params, "DhcpOptionsIds", "dopt")
    with rt.store.read() as s:
        query = (
            select(Ec2DhcpOptions)
            .where(Ec2DhcpOptions.account_id == account)
            .order_by(Ec2DhcpOptions.id)
        )
        if ids:
            query = query.where(Ec2DhcpOptions.id.in_(ids))
        rows = list(s.scalars(query).all())
        tags = tags_for(s, account, [d.id for d in rows], "dhcp-options")
    missing_ids(ids, {d.id for d in rows}, "dopt")
    filters = parse_filters(params.get("Filters"), FILTERS)
    chosen = [d for d in rows if matches(filters, lookup(FILTERS, d), tags.get(d.id, {}))]
    items, token = page(chosen, params, key=lambda d: d.id)
    out: Result = {"DhcpOptions": [dhcp_out(d, tags.get(d.id, {})) for d in items]}
    if token:
        out["NextToken"] = token
    return out


OPERATIONS: Operations = {
    "CreateDhcpOptions": create_dhcp_options,
    "DeleteDhcpOptions": delete_dhcp_options,
    "AssociateDhcpOptions": associate_dhcp_options,
    "DescribeDhcpOptions": describe_dhcp_options,
}
