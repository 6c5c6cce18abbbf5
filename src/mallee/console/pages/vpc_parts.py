"""What a VPC's page makes and removes inside it: subnets (and their public-IP-on-launch
switch), internet gateways (made and attached, detached and deleted, each as one action),
route tables with their routes and subnet associations, NAT gateways. Every form comes back
to the VPC's page; a refusal is shown there, by the form, as the API words it."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.vpcs import detail_path, name_tags

# A route's target by its id's prefix: the CreateRoute parameter that names it.
_TARGET_PARAMS = {"igw": "GatewayId", "nat": "NatGatewayId"}


def _need(ctx: Ctx, name: str, what: str) -> str:
    value = ctx.arg(name)
    if not value:
        raise BadRequest(f"which {what}?")
    return value


def _home(ctx: Ctx) -> Response:
    return ctx.back(detail_path(ctx.arg("vpc")) if ctx.arg("vpc") else None)


def create_subnet(ctx: Ctx) -> Response:
    vpc_id = _need(ctx, "vpc", "VPC")
    cidr = ctx.arg("cidr")
    if not cidr:
        raise BadRequest("give the subnet's IPv4 CIDR block (inside the VPC's)")
    params: dict[str, Any] = {"VpcId": vpc_id, "CidrBlock": cidr}
    if ctx.arg("zone"):
        params["AvailabilityZone"] = ctx.arg("zone")
    specs = name_tags("subnet", ctx.arg("name"))
    if specs:
        params["TagSpecifications"] = specs
    made = ctx.client("ec2").create_subnet(**params).get("Subnet", {})
    ctx.ok(f"Created subnet {made.get('SubnetId', '')} ({made.get('CidrBlock', cidr)})")
    return _home(ctx)


def delete_subnet(ctx: Ctx) -> Response:
    subnet_id = _need(ctx, "subnet", "subnet")
    asked = ctx.confirmed(f"Delete subnet {subnet_id}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_subnet(SubnetId=subnet_id)
    ctx.ok(f"Deleted subnet {subnet_id}")
    return _home(ctx)


def public_ip(ctx: Ctx) -> Response:
    subnet_id = _need(ctx, "subnet", "subnet")
    choice = ctx.arg("map")
    if choice not in ("on", "off"):
        raise BadRequest("turn the public IP on launch on or off")
    ctx.client("ec2").modify_subnet_attribute(
        SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": choice == "on"}
    )
    now = "now gets" if choice == "on" else "no longer gets"
    ctx.ok(f"An instance launched in {subnet_id} {now} a public IP")
    return _home(ctx)


def create_gateway(ctx: Ctx) -> Response:
    """CreateInternetGateway then AttachInternetGateway: when the API refuses to attach it,
    the gateway just made is deleted again, so nothing is left half-made."""
    vpc_id = _need(ctx, "vpc", "VPC")
    ec2 = ctx.client("ec2")
    params: dict[str, Any] = {}
    specs = name_tags("internet-gateway", ctx.arg("name"))
    if specs:
        params["TagSpecifications"] = specs
    made = ec2.create_internet_gateway(**params)["InternetGateway"]
    gateway_id = str(made["InternetGatewayId"])
    try:
        ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    except ClientError:
        # The refusal is what the user is shown, even if the cleanup fails too.
        with suppress(ClientError, BotoCoreError):
            ec2.delete_internet_gateway(InternetGatewayId=gateway_id)
        raise
    ctx.ok(f"Created internet gateway {gateway_id}, attached to {vpc_id}")
    return _home(ctx)


def delete_gateway(ctx: Ctx) -> Response:
    vpc_id = _need(ctx, "vpc", "VPC")
    gateway_id = _need(ctx, "gateway", "internet gateway")
    asked = ctx.confirmed(
        f"Detach internet gateway {gateway_id} from {vpc_id} and delete it?", "Yes, delete it"
    )
    if asked is not None:
        return asked
    ec2 = ctx.client("ec2")
    ec2.detach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=gateway_id)
    ctx.ok(f"Detached and deleted internet gateway {gateway_id}")
    return _home(ctx)


def create_table(ctx: Ctx) -> Response:
    vpc_id = _need(ctx, "vpc", "VPC")
    params: dict[str, Any] = {"VpcId": vpc_id}
    specs = name_tags("route-table", ctx.arg("name"))
    if specs:
        params["TagSpecifications"] = specs
    made = ctx.client("ec2").create_route_table(**params).get("RouteTable", {})
    ctx.ok(f"Created route table {made.get('RouteTableId', '')}")
    return _home(ctx)


def delete_table(ctx: Ctx) -> Response:
    table_id = _need(ctx, "table", "route table")
    asked = ctx.confirmed(f"Delete route table {table_id}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_route_table(RouteTableId=table_id)
    ctx.ok(f"Deleted route table {table_id}")
    return _home(ctx)


def create_route(ctx: Ctx) -> Response:
    table_id = _need(ctx, "table", "route table")
    destination = ctx.arg("destination")
    if not destination:
        raise BadRequest("give the route's destination (an IPv4 CIDR block)")
    target = _need(ctx, "target", "target")
    param = _TARGET_PARAMS.get(target.partition("-")[0])
    if param is None:
        raise BadRequest("a route from here goes to an internet gateway or a NAT gateway")
    ctx.client("ec2").create_route(
        RouteTableId=table_id, DestinationCidrBlock=destination, **{param: target}
    )
    ctx.ok(f"Added the route {destination} -> {target} to {table_id}")
    return _home(ctx)


def delete_route(ctx: Ctx) -> Response:
    table_id = _need(ctx, "table", "route table")
    destination = _need(ctx, "destination", "route")
    asked = ctx.confirmed(f"Delete the route to {destination} from {table_id}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("ec2").delete_route(RouteTableId=table_id, DestinationCidrBlock=destination)
    ctx.ok(f"Deleted the route to {destination} from {table_id}")
    return _home(ctx)


def associate(ctx: Ctx) -> Response:
    table_id = _need(ctx, "table", "route table")
    subnet_id = _need(ctx, "subnet", "subnet")
    ctx.client("ec2").associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    ctx.ok(f"Associated {subnet_id} with {table_id}")
    return _home(ctx)


def disassociate(ctx: Ctx) -> Response:
    association_id = _need(ctx, "association", "association")
    subnet = ctx.arg("subnet") or association_id
    # Its instances' traffic follows the main table from then on.
    asked = ctx.confirmed(
        f"Disassociate {subnet} from route table {ctx.arg('table')}?", "Yes, disassociate"
    )
    if asked is not None:
        return asked
    ctx.client("ec2").disassociate_route_table(AssociationId=association_id)
    ctx.ok(f"Disassociated {subnet} from {ctx.arg('table')}")
    return _home(ctx)


def create_nat(ctx: Ctx) -> Response:
    """CreateNatGateway with an elastic IP, allocated here when asked for: refused, an
    address allocated for it is released again."""
    subnet_id = _need(ctx, "subnet", "subnet")
    allocation = _need(ctx, "allocation", "elastic IP")
    ec2 = ctx.client("ec2")
    new = allocation == "new"
    if new:
        allocation = str(ec2.allocate_address(Domain="vpc")["AllocationId"])
    params: dict[str, Any] = {"SubnetId": subnet_id, "AllocationId": allocation}
    specs = name_tags("natgateway", ctx.arg("name"))
    if specs:
        params["TagSpecifications"] = specs
    try:
        made = ec2.create_nat_gateway(**params).get("NatGateway", {})
    except ClientError:
        if new:
            with suppress(ClientError, BotoCoreError):
                ec2.release_address(AllocationId=allocation)
        raise
    ctx.ok(f"Creating NAT gateway {made.get('NatGatewayId', '')} in {subnet_id}")
    return _home(ctx)


def delete_nat(ctx: Ctx) -> Response:
    nat_id = _need(ctx, "nat", "NAT gateway")
    asked = ctx.confirmed(f"Delete NAT gateway {nat_id}?", "Yes, delete it")
    if asked is not None:
        return asked
    # Its elastic IP stays allocated, as AWS leaves it: released on the Elastic IPs page.
    ctx.client("ec2").delete_nat_gateway(NatGatewayId=nat_id)
    ctx.ok(f"Deleting NAT gateway {nat_id}")
    return _home(ctx)


ROUTES = [
    Route("POST", "/vpcs/subnets/create", create_subnet, "/vpcs"),
    Route("POST", "/vpcs/subnets/delete", delete_subnet, "/vpcs"),
    Route("POST", "/vpcs/subnets/public-ip", public_ip, "/vpcs"),
    Route("POST", "/vpcs/gateways/create", create_gateway, "/vpcs"),
    Route("POST", "/vpcs/gateways/delete", delete_gateway, "/vpcs"),
    Route("POST", "/vpcs/route-tables/create", create_table, "/vpcs"),
    Route("POST", "/vpcs/route-tables/delete", delete_table, "/vpcs"),
    Route("POST", "/vpcs/routes/create", create_route, "/vpcs"),
    Route("POST", "/vpcs/routes/delete", delete_route, "/vpcs"),
    Route("POST", "/vpcs/route-tables/associate", associate, "/vpcs"),
    Route("POST", "/vpcs/route-tables/disassociate", disassociate, "/vpcs"),
    Route("POST", "/vpcs/nat-gateways/create", create_nat, "/vpcs"),
    Route("POST", "/vpcs/nat-gateways/delete", delete_nat, "/vpcs"),
]
