"""One VPC's page: its facts, and what it holds (subnets, internet gateways, route tables
with their routes and associations, NAT gateways, network ACLs with their entries in rule
order, security groups), each asked of the API filtered to this VPC."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.common import paged, tag
from mallee.console.pages.volumes import zones
from mallee.console.pages.vpcs import detail_path, tags_text

# A route's target, whichever field names it.
TARGETS = (
    "GatewayId",
    "NatGatewayId",
    "InstanceId",
    "NetworkInterfaceId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
)
# NAT gateways that still hold their address or route traffic.
LIVE_NAT = ("pending", "available", "deleting")
# Network ACL protocol numbers as the AWS console names them.
PROTOCOLS = {"-1": "all", "1": "icmp", "6": "tcp", "17": "udp"}
# The last rule of every ACL, which no rule can replace: shown as "*" as AWS shows it.
LAST_RULE = 32767


def _in_vpc(vpc_id: str) -> list[dict[str, Any]]:
    return [{"Name": "vpc-id", "Values": [vpc_id]}]


def _subnet(n: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": n.get("SubnetId", ""),
        "name": tag(n, "Name"),
        "cidr": n.get("CidrBlock", ""),
        "zone": n.get("AvailabilityZone", ""),
        "state": n.get("State", ""),
        "free": n.get("AvailableIpAddressCount", ""),
        "public_ip": bool(n.get("MapPublicIpOnLaunch")),
        "default": bool(n.get("DefaultForAz")),
    }


def _gateway(g: dict[str, Any], vpc_id: str) -> dict[str, Any]:
    state = next(
        (a.get("State", "") for a in g.get("Attachments", []) if a.get("VpcId") == vpc_id), ""
    )
    return {"id": g.get("InternetGatewayId", ""), "name": tag(g, "Name"), "state": state}


def route_target(route: dict[str, Any]) -> str:
    return next((str(route[k]) for k in TARGETS if route.get(k)), "")


def _route(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "destination": r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock", ""),
        "target": route_target(r),
        "state": r.get("State", ""),
        "origin": r.get("Origin", ""),
        # The VPC's own route (to `local`) is the VPC's: no one deletes it.
        "deletable": r.get("GatewayId") != "local" and r.get("Origin") != "CreateRouteTable",
    }


def _table(t: dict[str, Any]) -> dict[str, Any]:
    associations = [
        {"id": a.get("RouteTableAssociationId", ""), "subnet": a.get("SubnetId", "")}
        for a in t.get("Associations", [])
        if a.get("SubnetId")
    ]
    return {
        "id": t.get("RouteTableId", ""),
        "name": tag(t, "Name"),
        "main": any(a.get("Main") for a in t.get("Associations", [])),
        "routes": [_route(r) for r in t.get("Routes", [])],
        "associations": associations,
    }


def _nat(n: dict[str, Any]) -> dict[str, Any]:
    address: dict[str, Any] = next(iter(n.get("NatGatewayAddresses") or []), {})
    return {
        "id": n.get("NatGatewayId", ""),
        "subnet": n.get("SubnetId", ""),
        "state": n.get("State", ""),
        "public_ip": address.get("PublicIp", ""),
        "private_ip": address.get("PrivateIp", ""),
        "allocation": address.get("AllocationId", ""),
        "failure": n.get("FailureMessage", ""),
    }


def _ports(e: dict[str, Any]) -> str:
    ports = e.get("PortRange")
    if ports:
        low, high = ports.get("From"), ports.get("To")
        return str(low) if low == high else f"{low}-{high}"
    icmp = e.get("IcmpTypeCode")
    if icmp:
        return f"type {icmp.get('Type')} code {icmp.get('Code')}"
    return "all"


def _entry(e: dict[str, Any]) -> dict[str, Any]:
    number = int(e.get("RuleNumber", 0))
    protocol = str(e.get("Protocol", ""))
    return {
        "rule": "*" if number == LAST_RULE else str(number),
        "number": number,
        "protocol": PROTOCOLS.get(protocol, protocol),
        "ports": _ports(e),
        "cidr": e.get("CidrBlock") or e.get("Ipv6CidrBlock", ""),
        "action": e.get("RuleAction", ""),
    }


def acl_view(a: dict[str, Any]) -> dict[str, Any]:
    """An ACL with its entries as they are evaluated: by rule number, inbound and outbound
    apart (the first rule that matches decides)."""
    entries = a.get("Entries", [])
    inbound = sorted((_entry(e) for e in entries if not e.get("Egress")), key=_rule_order)
    outbound = sorted((_entry(e) for e in entries if e.get("Egress")), key=_rule_order)
    return {
        "id": a.get("NetworkAclId", ""),
        "name": tag(a, "Name"),
        "default": bool(a.get("IsDefault")),
        "subnets": [s.get("SubnetId", "") for s in a.get("Associations", [])],
        "inbound": inbound,
        "outbound": outbound,
    }


def _rule_order(entry: dict[str, Any]) -> int:
    return int(entry["number"])


def _group(g: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": g.get("GroupId", ""),
        "name": g.get("GroupName", ""),
        "description": g.get("Description", ""),
    }


def free_allocations(ec2: Any) -> list[tuple[str, str]]:
    """Elastic IPs a NAT gateway may take: allocated, associated with nothing, held by no
    live NAT gateway (whose address describe_addresses may not show as associated)."""
    held = {
        str(a.get("AllocationId", ""))
        for n in paged(
            ec2,
            "describe_nat_gateways",
            "NatGateways",
            Filter=[{"Name": "state", "Values": list(LIVE_NAT)}],
        )
        for a in n.get("NatGatewayAddresses") or []
    }
    return [
        (str(a["AllocationId"]), f"{a.get('PublicIp', '')} ({a['AllocationId']})")
        for a in ec2.describe_addresses().get("Addresses", [])
        if a.get("AllocationId")
        and not (a.get("AssociationId") or a.get("InstanceId") or a.get("NetworkInterfaceId"))
        and a["AllocationId"] not in held
    ]


def detail(ctx: Ctx) -> Response:
    vpc_id = ctx.arg("id")
    if not vpc_id:
        raise BadRequest("which VPC?")
    ec2 = ctx.client("ec2")
    found = ec2.describe_vpcs(VpcIds=[vpc_id]).get("Vpcs", [])
    if not found:
        raise BadRequest(f"no VPC {vpc_id}")
    vpc = found[0]
    mine = _in_vpc(vpc_id)
    subnets = [_subnet(n) for n in paged(ec2, "describe_subnets", "Subnets", Filters=mine)]
    attached = [{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    gateways = [
        _gateway(g, vpc_id)
        for g in paged(ec2, "describe_internet_gateways", "InternetGateways", Filters=attached)
    ]
    tables = [_table(t) for t in paged(ec2, "describe_route_tables", "RouteTables", Filters=mine)]
    nats = [_nat(n) for n in paged(ec2, "describe_nat_gateways", "NatGateways", Filter=mine)]
    acls = [acl_view(a) for a in paged(ec2, "describe_network_acls", "NetworkAcls", Filters=mine)]
    groups = [
        _group(g) for g in paged(ec2, "describe_security_groups", "SecurityGroups", Filters=mine)
    ]
    facts = [
        ("Id", vpc.get("VpcId", "")),
        ("CIDR", vpc.get("CidrBlock", "")),
        ("State", vpc.get("State", "")),
        ("Default VPC", "yes" if vpc.get("IsDefault") else "no"),
        ("DHCP options", vpc.get("DhcpOptionsId", "")),
        ("Tenancy", vpc.get("InstanceTenancy", "")),
        ("Tags", tags_text(vpc)),
    ]
    # What a route may send to: this VPC's gateways, and its NAT gateways that still live.
    targets = [(g["id"], f"{g['id']} (internet gateway)") for g in gateways]
    targets += [
        (n["id"], f"{n['id']} (NAT gateway)")
        for n in nats
        if n["state"] in ("pending", "available")
    ]
    name = tag(vpc, "Name")
    return ctx.page(
        "vpc_detail.html",
        f"VPC {vpc_id}" + (f" ({name})" if name else ""),
        vpc_id=vpc_id,
        facts=facts,
        subnets=subnets,
        gateways=gateways,
        tables=tables,
        nats=nats,
        acls=acls,
        groups=groups,
        zones=zones(ec2),
        targets=targets,
        subnet_choices=[(n["id"], f"{n['id']} {n['cidr']} {n['name']}".strip()) for n in subnets],
        allocations=[("new", "allocate a new elastic IP"), *free_allocations(ec2)],
        here=detail_path(vpc_id),
    )


ROUTES = [Route("GET", "/vpcs/detail", detail, "/vpcs")]
