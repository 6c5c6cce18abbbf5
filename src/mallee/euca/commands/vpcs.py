"""VPCs as euca2ools has them: VPC, SUBNET, INTERNETGATEWAY (+ ATTACHMENT), ROUTETABLE (+ ROUTE,
ASSOCIATION) lines, with each resource's TAG lines."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from mallee.euca import args as opts
from mallee.euca.command import Command, Context, Line
from mallee.euca.output import tag_lines
from mallee.euca.paging import all_items

Obj = dict[str, Any]


def vpc_lines(vpc: Obj) -> list[Line]:
    head = [
        "VPC",
        vpc.get("VpcId"),
        vpc.get("State"),
        vpc.get("CidrBlock"),
        vpc.get("DhcpOptionsId"),
        vpc.get("InstanceTenancy"),
    ]
    return [head, *tag_lines(str(vpc.get("VpcId")), vpc.get("Tags"))]


def subnet_lines(subnet: Obj) -> list[Line]:
    head = [
        "SUBNET",
        subnet.get("SubnetId"),
        subnet.get("State"),
        subnet.get("VpcId"),
        subnet.get("CidrBlock"),
        subnet.get("AvailableIpAddressCount"),
        subnet.get("AvailabilityZone"),
        subnet.get("DefaultForAz"),
        subnet.get("MapPublicIpOnLaunch"),
    ]
    return [head, *tag_lines(str(subnet.get("SubnetId")), subnet.get("Tags"))]


def gateway_lines(igw: Obj) -> list[Line]:
    lines: list[Line] = [["INTERNETGATEWAY", igw.get("InternetGatewayId")]]
    lines += [["ATTACHMENT", a.get("VpcId"), a.get("State")] for a in igw.get("Attachments") or []]
    return lines + tag_lines(str(igw.get("InternetGatewayId")), igw.get("Tags"))


def route_table_lines(table: Obj) -> list[Line]:
    lines: list[Line] = [["ROUTETABLE", table.get("RouteTableId"), table.get("VpcId")]]
    for route in table.get("Routes") or []:
        target = (
            route.get("GatewayId")
            or route.get("InstanceId")
            or route.get("NetworkInterfaceId")
            or route.get("NatGatewayId")
            or route.get("VpcPeeringConnectionId")
        )
        lines.append(
            [
                "ROUTE",
                target,
                route.get("State"),
                route.get("DestinationCidrBlock"),
                route.get("Origin"),
            ]
        )
    for a in table.get("Associations") or []:
        main = "main" if a.get("Main") else ""
        lines.append(["ASSOCIATION", a.get("RouteTableAssociationId"), a.get("SubnetId"), main])
    return lines + tag_lines(str(table.get("RouteTableId")), table.get("Tags"))


def _describe(
    ctx: Context, args: argparse.Namespace, operation: str, key: str, ids_param: str
) -> list[Obj]:
    params: dict[str, Any] = {}
    if args.ids:
        params[ids_param] = args.ids
    if args.filter:
        params["Filters"] = opts.filters(args.filter)
    return all_items(ctx.client(), operation, key, **params)


def _ids_arguments(metavar: str) -> Any:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("ids", nargs="*", metavar=metavar, help="limit results to these")
        opts.add_filters(p)

    return add


def _create_vpc_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("cidr", metavar="CIDR", help="address CIDR block for the new VPC")
    p.add_argument(
        "--tenancy", choices=("default", "dedicated"), help="the type of instance tenancy to use"
    )


def _create_vpc(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"CidrBlock": args.cidr}
    if args.tenancy:
        params["InstanceTenancy"] = args.tenancy
    yield from vpc_lines(ctx.client().create_vpc(**params).get("Vpc") or {})


def _describe_vpcs(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    for vpc in _describe(ctx, args, "describe_vpcs", "Vpcs", "VpcIds"):
        yield from vpc_lines(vpc)


def _create_subnet_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--vpc", required=True, help="VPC to create the subnet in")
    p.add_argument("-i", "--cidr", required=True, metavar="CIDR", help="the subnet's block")
    p.add_argument("-z", "--availability-zone", help="zone to create the subnet in")


def _create_subnet(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"VpcId": args.vpc, "CidrBlock": args.cidr}
    if args.availability_zone:
        params["AvailabilityZone"] = args.availability_zone
    yield from subnet_lines(ctx.client().create_subnet(**params).get("Subnet") or {})


def _describe_subnets(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    for subnet in _describe(ctx, args, "describe_subnets", "Subnets", "SubnetIds"):
        yield from subnet_lines(subnet)


def _no_arguments(p: argparse.ArgumentParser) -> None:
    del p


def _create_gateway(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    yield from gateway_lines(ctx.client().create_internet_gateway().get("InternetGateway") or {})


def _attach_gateway_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("gateway", metavar="IGATEWAY", help="Internet gateway to attach")
    p.add_argument("-c", "--vpc", required=True, metavar="VPC", help="VPC to attach it to")


def _attach_gateway(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    ctx.client().attach_internet_gateway(InternetGatewayId=args.gateway, VpcId=args.vpc)
    yield from ()


def _create_table_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("vpc", metavar="VPC", help="VPC to create the route table in")


def _create_table(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    made = ctx.client().create_route_table(VpcId=args.vpc).get("RouteTable") or {}
    yield from route_table_lines(made)


def _create_route_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("table", metavar="RTABLE", help="route table to add the route to")
    p.add_argument("-d", "--dest-cidr", required=True, metavar="CIDR", help="destination block")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("-g", "--gateway-id", metavar="GATEWAY", help="Internet gateway target")
    target.add_argument("-i", "--instance", metavar="INSTANCE", help="NAT instance target")
    target.add_argument("-n", "--network-interface", help="network interface target")
    target.add_argument("--nat-gateway", metavar="NATGATEWAY", help="NAT gateway target")


def _create_route(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    params: dict[str, Any] = {"RouteTableId": args.table, "DestinationCidrBlock": args.dest_cidr}
    targets = {
        "GatewayId": args.gateway_id,
        "InstanceId": args.instance,
        "NetworkInterfaceId": args.network_interface,
        "NatGatewayId": args.nat_gateway,
    }
    params.update({k: v for k, v in targets.items() if v})
    ctx.client().create_route(**params)
    target = next(v for v in targets.values() if v)
    yield ["ROUTE", target, args.dest_cidr]


def _associate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("table", metavar="ROUTETABLE", help="route table to associate")
    p.add_argument("-s", dest="subnet", required=True, metavar="SUBNET", help="subnet to use it")


def _associate(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    out = ctx.client().associate_route_table(RouteTableId=args.table, SubnetId=args.subnet)
    yield ["ASSOCIATION", out.get("AssociationId"), args.table, args.subnet]


def _describe_tables(ctx: Context, args: argparse.Namespace) -> Iterator[Line]:
    for table in _describe(ctx, args, "describe_route_tables", "RouteTables", "RouteTableIds"):
        yield from route_table_lines(table)


CREATE_VPC = Command(
    "euca-create-vpc", "Create a new VPC", "ec2", _create_vpc_arguments, _create_vpc
)
DESCRIBE_VPCS = Command(
    "euca-describe-vpcs",
    "Show information about VPCs",
    "ec2",
    _ids_arguments("VPC"),
    _describe_vpcs,
)
CREATE_SUBNET = Command(
    "euca-create-subnet",
    "Create a new VPC subnet",
    "ec2",
    _create_subnet_arguments,
    _create_subnet,
)
DESCRIBE_SUBNETS = Command(
    "euca-describe-subnets",
    "Show information about one or more VPC subnets",
    "ec2",
    _ids_arguments("SUBNET"),
    _describe_subnets,
)
CREATE_INTERNET_GATEWAY = Command(
    "euca-create-internet-gateway",
    "Create a new VPC Internet gateway",
    "ec2",
    _no_arguments,
    _create_gateway,
)
ATTACH_INTERNET_GATEWAY = Command(
    "euca-attach-internet-gateway",
    "Attach an Internet gateway to a VPC",
    "ec2",
    _attach_gateway_arguments,
    _attach_gateway,
)
CREATE_ROUTE_TABLE = Command(
    "euca-create-route-table",
    "Create a new VPC route table",
    "ec2",
    _create_table_arguments,
    _create_table,
)
CREATE_ROUTE = Command(
    "euca-create-route",
    "Add a route to a VPC route table",
    "ec2",
    _create_route_arguments,
    _create_route,
)
ASSOCIATE_ROUTE_TABLE = Command(
    "euca-associate-route-table",
    "Associate a VPC subnet with a route table",
    "ec2",
    _associate_arguments,
    _associate,
)
DESCRIBE_ROUTE_TABLES = Command(
    "euca-describe-route-tables",
    "Describe one or more VPC route tables",
    "ec2",
    _ids_arguments("RTABLE"),
    _describe_tables,
)
COMMANDS = (
    CREATE_VPC,
    DESCRIBE_VPCS,
    CREATE_SUBNET,
    DESCRIBE_SUBNETS,
    CREATE_INTERNET_GATEWAY,
    ATTACH_INTERNET_GATEWAY,
    CREATE_ROUTE_TABLE,
    CREATE_ROUTE,
    ASSOCIATE_ROUTE_TABLE,
    DESCRIBE_ROUTE_TABLES,
)
