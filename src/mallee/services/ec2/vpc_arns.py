"""The ARNs the VPC operations are authorized on, as AWS's resource types for them, so an IAM
policy on a vpc/subnet/route-table/... ARN allows or denies exactly those requests."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.services.ec2.vpc_rows import ARN_TYPES, arn
from mallee.store.db import Store
from mallee.store.tables.vpc import (
    Ec2NetworkAcl,
    Ec2NetworkAclAssociation,
    Ec2RouteTable,
    Ec2RouteTableAssociation,
)

# What a route sends to is a resource the route acts on, as AWS authorizes CreateRoute.
_ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "NetworkInterfaceId", "InstanceId")
# Values that name no resource: the main DHCP options, the local route's target.
_NOT_IDS = ("default", "local")
# Operation -> the request members naming existing resources it acts on.
_NAMED: dict[str, tuple[str, ...]] = {
    "DeleteVpc": ("VpcId",),
    "DescribeVpcAttribute": ("VpcId",),
    "ModifyVpcAttribute": ("VpcId",),
    "CreateSubnet": ("VpcId",),
    "DeleteSubnet": ("SubnetId",),
    "ModifySubnetAttribute": ("SubnetId",),
    "DeleteInternetGateway": ("InternetGatewayId",),
    "AttachInternetGateway": ("InternetGatewayId", "VpcId"),
    "DetachInternetGateway": ("InternetGatewayId", "VpcId"),
    "CreateRouteTable": ("VpcId",),
    "DeleteRouteTable": ("RouteTableId",),
    "CreateRoute": ("RouteTableId", *_ROUTE_TARGETS),
    "DeleteRoute": ("RouteTableId",),
    "ReplaceRoute": ("RouteTableId", *_ROUTE_TARGETS),
    "AssociateRouteTable": ("RouteTableId", "SubnetId"),
    "ReplaceRouteTableAssociation": ("RouteTableId",),
    "DisassociateRouteTable": (),
    "CreateNetworkAcl": ("VpcId",),
    "DeleteNetworkAcl": ("NetworkAclId",),
    "CreateNetworkAclEntry": ("NetworkAclId",),
    "ReplaceNetworkAclEntry": ("NetworkAclId",),
    "DeleteNetworkAclEntry": ("NetworkAclId",),
    "ReplaceNetworkAclAssociation": ("NetworkAclId",),
    "DeleteDhcpOptions": ("DhcpOptionsId",),
    "AssociateDhcpOptions": ("DhcpOptionsId", "VpcId"),
    "CreateNatGateway": ("SubnetId", "AllocationId"),
    "DeleteNatGateway": ("NatGatewayId",),
    "CreateNetworkInterface": ("SubnetId",),
    "DeleteNetworkInterface": ("NetworkInterfaceId",),
    "ModifyNetworkInterfaceAttribute": ("NetworkInterfaceId",),
    "DescribeNetworkInterfaceAttribute": ("NetworkInterfaceId",),
    "AttachNetworkInterface": ("NetworkInterfaceId", "InstanceId"),
    "AssignPrivateIpAddresses": ("NetworkInterfaceId",),
    "UnassignPrivateIpAddresses": ("NetworkInterfaceId",),
    "AssociateAddress": ("AllocationId", "InstanceId", "NetworkInterfaceId"),
    "ReleaseAddress": ("AllocationId",),
}
# Operation -> the id prefix of what it creates (authorized on that type's "*").
_CREATES = {
    "CreateVpc": "vpc",
    "CreateDefaultVpc": "vpc",
    "CreateSubnet": "subnet",
    "CreateInternetGateway": "igw",
    "CreateRouteTable": "rtb",
    "CreateNetworkAcl": "acl",
    "CreateDhcpOptions": "dopt",
    "CreateNatGateway": "nat",
    "CreateNetworkInterface": "eni",
}


_BY_ASSOCIATION = frozenset(
    {"ReplaceNetworkAclAssociation", "DisassociateRouteTable", "ReplaceRouteTableAssociation"}
)


def _associated(store: Store, ctx: RequestContext) -> list[str]:
    """The subnet and the route table or network ACL behind the AssociationId an operation
    names (the caller's own only: another account's is the operation's NotFound to answer)."""
    association = str(ctx.params.get("AssociationId") or "")
    account = ctx.principal.account_id
    found: list[str | None] = []
    with store.read() as s:
        if ctx.operation_name == "ReplaceNetworkAclAssociation":
            acl = s.get(Ec2NetworkAclAssociation, association)
            owner = s.get(Ec2NetworkAcl, acl.acl_id) if acl is not None else None
            if acl is not None and owner is not None and owner.account_id == account:
                found = [acl.subnet_id, acl.acl_id]
        else:
            rtb = s.get(Ec2RouteTableAssociation, association)
            table = s.get(Ec2RouteTable, rtb.table_id) if rtb is not None else None
            if rtb is not None and table is not None and table.account_id == account:
                found = [rtb.subnet_id, rtb.table_id]
    return [arn(ctx.region, account, r) for r in found if r]


def resources(store: Store, ctx: RequestContext) -> list[str] | None:
    """The ARNs of a VPC operation, or None for operations that are not about VPCs."""
    name = ctx.operation_name
    if name not in _NAMED and name not in _CREATES:
        return None
    region, account, params = ctx.region, ctx.principal.account_id, ctx.params
    out = []
    if name in _CREATES:
        out.append(f"arn:aws:ec2:{region}:{account}:{ARN_TYPES[_CREATES[name]]}/*")
    for member in _NAMED.get(name, ()):
        value = params.get(member)
        if value and str(value) not in _NOT_IDS:
            out.append(arn(region, account, str(value)))
    if name in _BY_ASSOCIATION:
        out += _associated(store, ctx)
    return out or ["*"]
