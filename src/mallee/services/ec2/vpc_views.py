"""How the VPC families' rows are shown (the EC2 output shapes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mallee.services.ec2.tags import tag_list
from mallee.services.ec2.vpc_rows import Plan, vpc_cidr
from mallee.store.tables.vpc import (
    Ec2DhcpOptions,
    Ec2InternetGateway,
    Ec2NatGateway,
    Ec2NetworkAcl,
    Ec2NetworkAclAssociation,
    Ec2NetworkAclEntry,
    Ec2Route,
    Ec2RouteTable,
    Ec2RouteTableAssociation,
    Ec2Vpc,
)

_PROTOCOLS_WITH_PORTS = ("6", "17")


def _tagged(out: dict[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    # Always there, empty or not, as AWS answers (Ansible's ec2_vpc_igw reads it).
    out["Tags"] = tag_list(tags)
    return out


def vpc_out(vpc: Ec2Vpc, p: Plan, tags: Mapping[str, str]) -> dict[str, Any]:
    cidr = vpc_cidr(vpc, p)
    out: dict[str, Any] = {
        "VpcId": vpc.id,
        "OwnerId": vpc.account_id,
        "State": vpc.state,
        "CidrBlock": cidr,
        "CidrBlockAssociationSet": [
            {
                "AssociationId": f"vpc-cidr-assoc-{vpc.id[4:]}",
                "CidrBlock": cidr,
                "CidrBlockState": {"State": "associated"},
            }
        ],
        "DhcpOptionsId": vpc.dhcp_options_id,
        "InstanceTenancy": vpc.instance_tenancy,
        "IsDefault": vpc.is_default,
    }
    return _tagged(out, tags)


def gateway_out(g: Ec2InternetGateway, tags: Mapping[str, str]) -> dict[str, Any]:
    attachments = [{"State": "available", "VpcId": g.vpc_id}] if g.vpc_id else []
    out = {"InternetGatewayId": g.id, "OwnerId": g.account_id, "Attachments": attachments}
    return _tagged(out, tags)


def route_out(r: Ec2Route, destination: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "DestinationCidrBlock": destination,
        "Origin": r.origin,
        "State": r.state,
    }
    if r.target_kind in ("gateway", "local"):
        out["GatewayId"] = r.target_id
    elif r.target_kind == "nat-gateway":
        out["NatGatewayId"] = r.target_id
    elif r.target_kind == "instance":
        out["InstanceId"] = r.target_id
    else:
        out["NetworkInterfaceId"] = r.target_id
    return out


def association_out(a: Ec2RouteTableAssociation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Main": a.main,
        "RouteTableAssociationId": a.id,
        "RouteTableId": a.table_id,
        "AssociationState": {"State": "associated"},
    }
    if a.subnet_id:
        out["SubnetId"] = a.subnet_id
    return out


def table_out(
    t: Ec2RouteTable,
    vpc: Ec2Vpc,
    p: Plan,
    routes: Sequence[Ec2Route],
    associations: Sequence[Ec2RouteTableAssociation],
    tags: Mapping[str, str],
) -> dict[str, Any]:
    local = vpc_cidr(vpc, p)
    out = {
        "RouteTableId": t.id,
        "VpcId": t.vpc_id,
        "OwnerId": t.account_id,
        "Routes": [
            route_out(r, local if r.target_kind == "local" else r.destination) for r in routes
        ],
        "Associations": [association_out(a) for a in associations],
        "PropagatingVgws": [],
    }
    return _tagged(out, tags)


def entry_out(e: Ec2NetworkAclEntry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "RuleNumber": e.rule_number,
        "Protocol": e.protocol,
        "RuleAction": e.rule_action,
        "Egress": e.egress,
        "CidrBlock": e.cidr,
    }
    if e.protocol in _PROTOCOLS_WITH_PORTS and e.port_from is not None:
        out["PortRange"] = {"From": e.port_from, "To": e.port_to}
    if e.protocol == "1" and e.icmp_type is not None:
        out["IcmpTypeCode"] = {"Type": e.icmp_type, "Code": e.icmp_code}
    return out


def acl_out(
    acl: Ec2NetworkAcl,
    entries: Sequence[Ec2NetworkAclEntry],
    associations: Sequence[Ec2NetworkAclAssociation],
    tags: Mapping[str, str],
) -> dict[str, Any]:
    ordered = sorted(entries, key=lambda e: (e.egress, e.rule_number))
    out = {
        "NetworkAclId": acl.id,
        "VpcId": acl.vpc_id,
        "OwnerId": acl.account_id,
        "IsDefault": acl.is_default,
        "Entries": [entry_out(e) for e in ordered],
        "Associations": [
            {"NetworkAclAssociationId": a.id, "NetworkAclId": a.acl_id, "SubnetId": a.subnet_id}
            for a in associations
        ],
    }
    return _tagged(out, tags)


def dhcp_configurations(options: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    return [
        {"Key": key, "Values": [{"Value": v} for v in values]}
        for key, values in sorted(options.items())
    ]


def dhcp_out(d: Ec2DhcpOptions, tags: Mapping[str, str]) -> dict[str, Any]:
    out = {
        "DhcpOptionsId": d.id,
        "OwnerId": d.account_id,
        "DhcpConfigurations": dhcp_configurations(d.options),
    }
    return _tagged(out, tags)


def nat_out(n: Ec2NatGateway, zone: str, tags: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "NatGatewayId": n.id,
        "VpcId": n.vpc_id,
        "SubnetId": n.subnet_id,
        "State": n.state,
        "CreateTime": n.created_at,
        "ConnectivityType": "public",
        "NatGatewayAddresses": [
            {
                "AllocationId": n.allocation_id,
                "NetworkInterfaceId": n.network_interface_id,
                "PrivateIp": n.private_ip,
                "PublicIp": n.public_ip,
                "IsPrimary": True,
                "Status": "succeeded" if n.state == "available" else "associating",
                "AvailabilityZone": zone,
            }
        ],
    }
    if n.deleted_at is not None:
        out["DeleteTime"] = n.deleted_at
    if n.failure_code:
        out["FailureCode"] = n.failure_code
        out["FailureMessage"] = n.failure_message or ""
    return _tagged(out, tags)
