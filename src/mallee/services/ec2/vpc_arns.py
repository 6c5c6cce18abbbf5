"""The ARNs the VPC operations are authorized on, as AWS's resource types for them, so an IAM
policy on a vpc/subnet/route-table/... ARN allows or denies exactly those requests."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.services.ec2.vpc_rows import ARN_TYPES, arn

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
    "CreateRoute": ("RouteTableId",),
    "DeleteRoute": ("RouteTableId",),
    "ReplaceRoute": ("RouteTableId",),
    "AssociateRouteTable": ("RouteTableId", "SubnetId"),
    "ReplaceRouteTableAssociation": ("RouteTableId",),
    "CreateNetworkAcl": ("VpcId",),
    "DeleteNetworkAcl": ("NetworkAclId",),
    "CreateNetworkAclEntry": ("NetworkAclId",),
    "ReplaceNetworkAclEntry": ("NetworkAclId",),
    "DeleteNetworkAclEntry": ("NetworkAclId",),
    "ReplaceNetworkAclAssociation": ("NetworkAclId",),
    "DeleteDhcpOptions": ("DhcpOptionsId",),
    "AssociateDhcpOptions": ("DhcpOptionsId", "VpcId"),
    "CreateNatGateway": ("SubnetId",),
    "DeleteNatGateway": ("NatGatewayId",),
    "CreateNetworkInterface": ("SubnetId",),
    "DeleteNetworkInterface": ("NetworkInterfaceId",),
    "ModifyNetworkInterfaceAttribute": ("NetworkInterfaceId",),
    "DescribeNetworkInterfaceAttribute": ("NetworkInterfaceId",),
    "AttachNetworkInterface": ("NetworkInterfaceId", "InstanceId"),
    "AssignPrivateIpAddresses": ("NetworkInterfaceId",),
    "UnassignPrivateIpAddresses": ("NetworkInterfaceId",),
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


def resources(ctx: RequestContext) -> list[str] | None:
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
        if value and str(value) != "default":
            out.append(arn(region, account, str(value)))
    return out or ["*"]
