"""VPCs through boto3 against a live cloud: the default VPC every account has (EDGE presented as
a VPC), VPCs of the user's own with their subnets, gateways, route tables, ACLs, DHCP options
and NAT gateways; AWS's errors, nothing half-made, other accounts and IAM denials kept out."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ec2(module_cloud: Cloud) -> Any:
    return module_cloud.client("ec2")


@pytest.fixture(scope="module")
def other(module_cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Any:
    _, ak, sk = new_account(module_cloud, tmp_path_factory.mktemp("other"))
    return module_cloud.client("ec2", access_key=ak, secret_key=sk)


def error(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def fails(code: str, call: Any, **params: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call(**params)
    assert error(exc) == code, exc.value.response["Error"]


def tags(name: str, kind: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]


def new_vpc(ec2: Any, cidr: str = "10.0.0.0/16") -> str:
    return str(ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])


def test_default_vpc_is_edge(ec2: Any) -> None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1
    vpc = vpcs[0]
    assert vpc["CidrBlock"] == "10.111.0.0/16" and vpc["State"] == "available"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    (subnet,) = subnets["Subnets"]
    # The node's subnet (MALLEE_NODE_SUBNET's default) is where EDGE puts instances.
    assert subnet["CidrBlock"] == "10.111.1.0/24"
    assert subnet["DefaultForAz"] and subnet["MapPublicIpOnLaunch"]
    assert 0 < subnet["AvailableIpAddressCount"] <= 256 - 5
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    assert subnet["AvailabilityZone"] in zones
    (igw,) = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}]
    )["InternetGateways"]
    assert igw["Attachments"] == [{"State": "available", "VpcId": vpc["VpcId"]}]
    (table,) = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "RouteTables"
    ]
    routes = {r["DestinationCidrBlock"]: r.get("GatewayId") for r in table["Routes"]}
    assert routes == {"10.111.0.0/16": "local", "0.0.0.0/0": igw["InternetGatewayId"]}
    assert table["Associations"][0]["Main"] is True
    (acl,) = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "NetworkAcls"
    ]
    assert acl["IsDefault"] and [a["SubnetId"] for a in acl["Associations"]] == [subnet["SubnetId"]]
    assert {(e["RuleNumber"], e["RuleAction"]) for e in acl["Entries"]} == {
        (100, "allow"),
        (32767, "deny"),
    }
    (dopt,) = ec2.describe_dhcp_options(DhcpOptionsIds=[vpc["DhcpOptionsId"]])["DhcpOptions"]
    config = {c["Key"]: [v["Value"] for v in c["Values"]] for c in dopt["DhcpConfigurations"]}
    assert config["domain-name-servers"] == ["AmazonProvidedDNS"]
    attrs = ec2.describe_account_attributes()["AccountAttributes"]
    values = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]] for a in attrs
    }
    assert values["supported-platforms"] == ["VPC"]
    assert values["default-vpc"] == [vpc["VpcId"]]
    assert set(values) == {
        "supported-platforms",
        "default-vpc",
        "max-instances",
        "vpc-max-security-groups-per-interface",
        "max-elastic-ips",
        "vpc-max-elastic-ips",
    }
    only = ec2.describe_account_attributes(AttributeNames=["default-vpc"])["AccountAttributes"]
    assert [a["AttributeName"] for a in only] == ["default-vpc"]


def test_vpc_lifecycle_and_errors(ec2: Any) -> None:
    made = ec2.create_vpc(CidrBlock="10.1.0.0/16", TagSpecifications=tags("mine", "vpc"))["Vpc"]
    vpc_id = made["VpcId"]
    assert made["Tags"] == [{"Key": "Name", "Value": "mine"}] and not made["IsDefault"]
    assert vpc_id.startswith("vpc-") and len(vpc_id) == 21
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["mine"]}])["Vpcs"]
    assert [v["VpcId"] for v in found] == [vpc_id]
    by_cidr = ec2.describe_vpcs(
        Filters=[{"Name": "cidr-block-association.cidr-block", "Values": ["10.1.0.0/16"]}]
    )["Vpcs"]
    assert [v["VpcId"] for v in by_cidr] == [vpc_id]
    fails("InvalidVpc.Range", ec2.create_vpc, CidrBlock="10.0.0.0/8")
    fails("InvalidVpc.Range", ec2.create_vpc, CidrBlock="10.0.0.0/29")
    fails("InvalidParameterValue", ec2.create_vpc, CidrBlock="10.0.0.1/16")
    fails(
        "UnsupportedOperation",
        ec2.create_vpc,
        CidrBlock="10.2.0.0/16",
        AmazonProvidedIpv6CidrBlock=True,
    )
    # A create that fails at its tags leaves nothing behind.
    count = len(ec2.describe_vpcs()["Vpcs"])
    bad_tags = [{"ResourceType": "subnet", "Tags": [{"Key": "k", "Value": "v"}]}]
    fails(
        "InvalidParameterValue", ec2.create_vpc, CidrBlock="10.2.0.0/16", TagSpecifications=bad_tags
    )
    assert len(ec2.describe_vpcs()["Vpcs"]) == count
    fails("InvalidVpcID.NotFound", ec2.describe_vpcs, VpcIds=["vpc-0123456789abcdef0"])
    fails("InvalidVpcID.Malformed", ec2.describe_vpcs, VpcIds=["vpc-zz"])
    fails("InvalidParameterValue", ec2.describe_vpcs, Filters=[{"Name": "nope", "Values": ["x"]}])

    attr = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert attr["EnableDnsHostnames"] == {"Value": False}
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    attr = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert attr["EnableDnsHostnames"] == {"Value": True}

    # Its main table and default ACL came with it.
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    (main,) = tables["RouteTables"]
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in main["Routes"]] == [
        ("10.1.0.0/16", "local")
    ]
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    assert [a["IsDefault"] for a in acls["NetworkAcls"]] == [True]

    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.1.0/24")["Subnet"]
    fails("DependencyViolation", ec2.delete_vpc, VpcId=vpc_id)
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)
    fails("InvalidVpcID.NotFound", ec2.delete_vpc, VpcId=vpc_id)
    # Nothing of it is left behind.
    assert not ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "RouteTables"
    ]
    assert not ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "NetworkAcls"
    ]


def test_subnets(ec2: Any) -> None:
    vpc_id = new_vpc(ec2, "10.3.0.0/16")
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    subnet = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock="10.3.0.0/24",
        AvailabilityZone=zone,
        TagSpecifications=tags("s1", "subnet"),
    )["Subnet"]
    assert subnet["AvailableIpAddressCount"] == 251 and subnet["State"] == "available"
    assert subnet["SubnetId"].startswith("subnet-") and not subnet["DefaultForAz"]
    fails("InvalidSubnet.Conflict", ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.3.0.128/25")
    fails("InvalidSubnet.Range", ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.4.0.0/24")
    fails("InvalidSubnet.Range", ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.3.1.0/29")
    fails(
        "InvalidParameterValue",
        ec2.create_subnet,
        VpcId=vpc_id,
        CidrBlock="10.3.2.0/24",
        AvailabilityZone="nowhere",
    )
    fails(
        "InvalidVpcID.NotFound",
        ec2.create_subnet,
        VpcId="vpc-0123456789abcdef0",
        CidrBlock="10.3.2.0/24",
    )
    ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    found = ec2.describe_subnets(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "availability-zone", "Values": [zone]},
            {"Name": "cidr-block", "Values": ["10.3.0.0/24"]},
            {"Name": "default-for-az", "Values": ["false"]},
            {"Name": "state", "Values": ["available"]},
            {"Name": "tag:Name", "Values": ["s1"]},
        ]
    )["Subnets"]
    assert [s["SubnetId"] for s in found] == [subnet["SubnetId"]]
    assert found[0]["MapPublicIpOnLaunch"] is True
    fails("InvalidSubnetID.NotFound", ec2.describe_subnets, SubnetIds=["subnet-0123456789abcdef0"])
    fails("InvalidSubnetID.Malformed", ec2.delete_subnet, SubnetId="subnet-xyz")
    for n in range(2, 9):
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.3.{n}.0/24")
    pages = ec2.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}], PaginationConfig={"PageSize": 5}
    )
    seen = [s["SubnetId"] for p in pages for s in p["Subnets"]]
    assert len(seen) == len(set(seen)) == 8


def test_internet_gateways_and_routes(ec2: Any) -> None:
    vpc_id = new_vpc(ec2, "10.5.0.0/16")
    other_vpc = new_vpc(ec2, "10.5.0.0/16")  # overlapping VPCs are allowed
    igw = ec2.create_internet_gateway(TagSpecifications=tags("gw", "internet-gateway"))
    igw_id = igw["InternetGateway"]["InternetGatewayId"]
    assert igw["InternetGateway"]["Attachments"] == []
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    fails(
        "Resource.AlreadyAssociated",
        ec2.attach_internet_gateway,
        InternetGatewayId=igw_id,
        VpcId=other_vpc,
    )
    second = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    fails(
        "Resource.AlreadyAssociated",
        ec2.attach_internet_gateway,
        InternetGatewayId=second,
        VpcId=vpc_id,
    )
    fails(
        "Gateway.NotAttached", ec2.detach_internet_gateway, InternetGatewayId=second, VpcId=vpc_id
    )
    fails("DependencyViolation", ec2.delete_internet_gateway, InternetGatewayId=igw_id)
    fails(
        "InvalidInternetGatewayID.NotFound",
        ec2.delete_internet_gateway,
        InternetGatewayId="igw-0123456789abcdef0",
    )

    table = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=tags("t", "route-table"))
    table_id = table["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    fails(
        "RouteAlreadyExists",
        ec2.create_route,
        RouteTableId=table_id,
        DestinationCidrBlock="0.0.0.0/0",
        GatewayId=igw_id,
    )
    fails(
        "InvalidParameterValue",
        ec2.create_route,
        RouteTableId=table_id,
        DestinationCidrBlock="192.168.0.0/16",
        GatewayId=second,
    )
    fails(
        "InvalidRoute.NotFound",
        ec2.delete_route,
        RouteTableId=table_id,
        DestinationCidrBlock="192.168.0.0/16",
    )
    fails(
        "InvalidRouteTableID.NotFound",
        ec2.create_route,
        RouteTableId="rtb-0123456789abcdef0",
        DestinationCidrBlock="0.0.0.0/0",
        GatewayId=igw_id,
    )
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.5.1.0/24")["Subnet"]["SubnetId"]
    # Inside the VPC's CIDR only a whole subnet may be routed, and only to an appliance.
    eni = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]
    eni_id = eni["NetworkInterfaceId"]
    inside = {"RouteTableId": table_id, "DestinationCidrBlock": "10.5.1.0/24"}
    fails("InvalidParameterValue", ec2.create_route, **inside, GatewayId=igw_id)
    part = {**inside, "DestinationCidrBlock": "10.5.1.128/25"}
    fails("InvalidParameterValue", ec2.create_route, **part, NetworkInterfaceId=eni_id)
    ec2.create_route(**inside, NetworkInterfaceId=eni_id)
    fails("InvalidParameterValue", ec2.replace_route, **inside, GatewayId=igw_id)
    ec2.delete_route(**inside)
    ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    assoc = ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    assert assoc["AssociationState"] == {"State": "associated"}
    fails(
        "Resource.AlreadyAssociated",
        ec2.associate_route_table,
        RouteTableId=table_id,
        SubnetId=subnet_id,
    )
    fails("DependencyViolation", ec2.delete_route_table, RouteTableId=table_id)
    found = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
    )["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [table_id]
    routes = {r["DestinationCidrBlock"]: r for r in found[0]["Routes"]}
    assert (
        routes["0.0.0.0/0"]["State"] == "active" and routes["0.0.0.0/0"]["Origin"] == "CreateRoute"
    )

    # Detaching makes the route a blackhole, as AWS.
    ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    (t,) = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
    assert {r["DestinationCidrBlock"]: r["State"] for r in t["Routes"]}["0.0.0.0/0"] == "blackhole"
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)

    # The main association moves to the new table.
    (main,) = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    main_assoc = main["Associations"][0]["RouteTableAssociationId"]
    moved = ec2.replace_route_table_association(AssociationId=main_assoc, RouteTableId=table_id)
    assert moved["NewAssociationId"].startswith("rtbassoc-")
    (now_main,) = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    assert now_main["RouteTableId"] == table_id
    ec2.disassociate_route_table(AssociationId=assoc["AssociationId"])
    fails(
        "InvalidAssociationID.NotFound",
        ec2.disassociate_route_table,
        AssociationId=assoc["AssociationId"],
    )
    ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0")
    fails(
        "InvalidParameterValue",
        ec2.delete_route,
        RouteTableId=table_id,
        DestinationCidrBlock="10.5.0.0/16",
    )


def test_network_acls(ec2: Any) -> None:
    vpc_id = new_vpc(ec2, "10.6.0.0/16")
    acl = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]
    acl_id = acl["NetworkAclId"]
    assert not acl["IsDefault"] and {e["RuleNumber"] for e in acl["Entries"]} == {32767}
    entry = dict(
        NetworkAclId=acl_id,
        RuleNumber=110,
        Protocol="6",
        RuleAction="allow",
        Egress=False,
        CidrBlock="0.0.0.0/0",
        PortRange={"From": 22, "To": 22},
    )
    ec2.create_network_acl_entry(**entry)
    fails("NetworkAclEntryAlreadyExists", ec2.create_network_acl_entry, **entry)
    fails("InvalidParameterValue", ec2.create_network_acl_entry, **{**entry, "RuleNumber": 32767})
    ec2.replace_network_acl_entry(**{**entry, "RuleAction": "deny"})
    (found,) = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"]
    rule = next(e for e in found["Entries"] if e["RuleNumber"] == 110)
    assert rule["RuleAction"] == "deny" and rule["PortRange"] == {"From": 22, "To": 22}
    fails(
        "InvalidNetworkAclEntry.NotFound",
        ec2.delete_network_acl_entry,
        NetworkAclId=acl_id,
        RuleNumber=120,
        Egress=False,
    )
    ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=110, Egress=False)
    # What iptables could not take (and would stop the VPC's data path) is refused.
    icmp = {k: v for k, v in entry.items() if k != "PortRange"} | {"Protocol": "1"}
    for bad in ({"Type": 256, "Code": 0}, {"Type": 8, "Code": 300}, {"Type": -2, "Code": 0}):
        fails(
            "InvalidParameterValue", ec2.create_network_acl_entry, **{**icmp, "IcmpTypeCode": bad}
        )
    fails("InvalidParameterValue", ec2.create_network_acl_entry, **{**entry, "Protocol": "0"})
    ec2.create_network_acl_entry(**{**icmp, "IcmpTypeCode": {"Type": -1, "Code": -1}})
    ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=110, Egress=False)

    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.6.1.0/24")["Subnet"]["SubnetId"]
    (default,) = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
    )["NetworkAcls"]
    assert default["IsDefault"]
    assoc = next(a for a in default["Associations"] if a["SubnetId"] == subnet_id)
    new = ec2.replace_network_acl_association(
        AssociationId=assoc["NetworkAclAssociationId"], NetworkAclId=acl_id
    )["NewAssociationId"]
    fails("DependencyViolation", ec2.delete_network_acl, NetworkAclId=acl_id)
    fails("InvalidParameterValue", ec2.delete_network_acl, NetworkAclId=default["NetworkAclId"])
    ec2.replace_network_acl_association(AssociationId=new, NetworkAclId=default["NetworkAclId"])
    ec2.delete_network_acl(NetworkAclId=acl_id)
    fails("InvalidNetworkAclID.NotFound", ec2.delete_network_acl, NetworkAclId=acl_id)


def test_dhcp_options(ec2: Any) -> None:
    vpc_id = new_vpc(ec2, "10.7.0.0/16")
    dopt = ec2.create_dhcp_options(
        DhcpConfigurations=[
            {"Key": "domain-name", "Values": ["example.internal"]},
            {"Key": "domain-name-servers", "Values": ["10.7.0.2"]},
        ]
    )["DhcpOptions"]
    dopt_id = dopt["DhcpOptionsId"]
    ec2.associate_dhcp_options(DhcpOptionsId=dopt_id, VpcId=vpc_id)
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["DhcpOptionsId"] == dopt_id
    fails("DependencyViolation", ec2.delete_dhcp_options, DhcpOptionsId=dopt_id)
    fails(
        "InvalidParameterValue",
        ec2.create_dhcp_options,
        DhcpConfigurations=[{"Key": "bogus", "Values": ["x"]}],
    )
    ec2.associate_dhcp_options(DhcpOptionsId="default", VpcId=vpc_id)
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["DhcpOptionsId"] == "default"
    ec2.delete_dhcp_options(DhcpOptionsId=dopt_id)
    fails("InvalidDhcpOptionID.NotFound", ec2.describe_dhcp_options, DhcpOptionsIds=[dopt_id])


def test_nat_gateways(ec2: Any) -> None:
    vpc_id = new_vpc(ec2, "10.8.0.0/16")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.8.0.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]
    assert eni["PrivateIpAddress"] == "10.8.0.4"
    address = ec2.allocate_address(Domain="vpc")
    allocation = address["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet_id, AllocationId=allocation)["NatGateway"]
    nat_id = nat["NatGatewayId"]
    # Pending until the VPC data path brings it up.
    assert nat["State"] == "pending" and nat["VpcId"] == vpc_id
    assert nat["NatGatewayAddresses"][0]["PrivateIp"] == "10.8.0.5"  # the interface has .4
    # The gateway's elastic IP is its own until it is deleted.
    fails("InvalidIPAddress.InUse", ec2.release_address, AllocationId=allocation)
    fails("InvalidIPAddress.InUse", ec2.release_address, PublicIp=address["PublicIp"])
    fails(
        "Resource.AlreadyAssociated",
        ec2.create_nat_gateway,
        SubnetId=subnet_id,
        AllocationId=allocation,
    )
    fails("DependencyViolation", ec2.delete_subnet, SubnetId=subnet_id)
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    found = ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [vpc_id]}])
    assert [n["NatGatewayId"] for n in found["NatGateways"]] == [nat_id]
    assert ec2.delete_nat_gateway(NatGatewayId=nat_id)["NatGatewayId"] == nat_id
    (gone,) = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
    assert gone["State"] == "deleted"
    (t,) = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"]
    assert {r["DestinationCidrBlock"]: r["State"] for r in t["Routes"]}["0.0.0.0/0"] == "blackhole"
    fails("NatGatewayNotFound", ec2.delete_nat_gateway, NatGatewayId="nat-0123456789abcdef0")
    ec2.release_address(AllocationId=allocation)
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.delete_subnet(SubnetId=subnet_id)


def test_default_vpc_deleted_and_made_again(module_cloud: Cloud, tmp_path: Path) -> None:
    _, ak, sk = new_account(module_cloud, tmp_path)
    ec2 = module_cloud.client("ec2", access_key=ak, secret_key=sk)
    fails("DefaultVpcAlreadyExists", ec2.create_default_vpc)
    (vpc,) = ec2.describe_vpcs()["Vpcs"]
    vpc_id = vpc["VpcId"]
    fails("DependencyViolation", ec2.delete_vpc, VpcId=vpc_id)
    for subnet in ec2.describe_subnets()["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    (igw,) = ec2.describe_internet_gateways()["InternetGateways"]
    ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc_id)
    # Gone stays gone: reads do not make it again behind the user's back.
    assert ec2.describe_vpcs()["Vpcs"] == []
    assert ec2.describe_subnets()["Subnets"] == []
    attrs = ec2.describe_account_attributes(AttributeNames=["default-vpc"])["AccountAttributes"]
    assert attrs[0]["AttributeValues"] == [{"AttributeValue": "none"}]
    again = ec2.create_default_vpc()["Vpc"]
    assert again["IsDefault"] and again["VpcId"] != vpc_id
    assert len(ec2.describe_subnets()["Subnets"]) == 1
    fails("DefaultVpcAlreadyExists", ec2.create_default_vpc)


def test_another_account_cannot_see_or_touch(ec2: Any, other: Any) -> None:
    vpc_id = new_vpc(ec2, "10.9.0.0/16")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    igw_id = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assert vpc_id not in [v["VpcId"] for v in other.describe_vpcs()["Vpcs"]]
    fails("InvalidVpcID.NotFound", other.describe_vpcs, VpcIds=[vpc_id])
    fails("InvalidVpcID.NotFound", other.delete_vpc, VpcId=vpc_id)
    fails("InvalidVpcID.NotFound", other.create_subnet, VpcId=vpc_id, CidrBlock="10.9.1.0/24")
    fails("InvalidSubnetID.NotFound", other.delete_subnet, SubnetId=subnet_id)
    fails(
        "InvalidInternetGatewayID.NotFound", other.delete_internet_gateway, InternetGatewayId=igw_id
    )
    own_vpc = other.describe_vpcs()["Vpcs"][0]["VpcId"]
    fails(
        "InvalidInternetGatewayID.NotFound",
        other.attach_internet_gateway,
        InternetGatewayId=igw_id,
        VpcId=own_vpc,
    )
    fails(
        "InvalidVpcID.NotFound",
        other.create_tags,
        Resources=[vpc_id],
        Tags=[{"Key": "k", "Value": "v"}],
    )
    # Still whole for its owner.
    assert ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"] == vpc_id


def test_iam_deny_on_a_vpc_arn(module_cloud: Cloud, ec2: Any) -> None:
    iam = module_cloud.client("iam")
    user = f"vpc-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    vpc_id = new_vpc(ec2, "10.10.0.0/16")
    denied = new_vpc(ec2, "10.10.0.0/16")
    account = module_cloud.client("sts").get_caller_identity()["Account"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "ec2:*",
                "Resource": f"arn:aws:ec2:*:{account}:vpc/{denied}",
            },
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine = module_cloud.client(
        "ec2", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]
    )
    fails("UnauthorizedOperation", mine.create_subnet, VpcId=denied, CidrBlock="10.10.0.0/24")
    fails("UnauthorizedOperation", mine.delete_vpc, VpcId=denied)
    made = mine.create_subnet(VpcId=vpc_id, CidrBlock="10.10.0.0/24")["Subnet"]
    assert made["VpcId"] == vpc_id
    assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[denied])["Vpcs"]] == [denied]
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [denied]}])["Subnets"] == []


def test_iam_covers_targets_associations_and_addresses(module_cloud: Cloud, ec2: Any) -> None:
    """What an operation reaches through a route target, an association id or an elastic IP is
    authorized too, so a Deny on it holds there."""
    vpc_id = new_vpc(ec2, "10.12.0.0/16")
    denied = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.12.1.0/24")["Subnet"]["SubnetId"]
    allowed = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.12.2.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    other_table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    assoc = ec2.associate_route_table(RouteTableId=table, SubnetId=denied)["AssociationId"]
    mine_assoc = ec2.associate_route_table(RouteTableId=table, SubnetId=allowed)["AssociationId"]
    acl = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    (default_acl,) = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [denied]}]
    )["NetworkAcls"]
    acl_assoc = next(
        a["NetworkAclAssociationId"] for a in default_acl["Associations"] if a["SubnetId"] == denied
    )
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    eni = ec2.create_network_interface(SubnetId=allowed)["NetworkInterface"]["NetworkInterfaceId"]
    account = module_cloud.client("sts").get_caller_identity()["Account"]
    arns = [f"subnet/{denied}", f"internet-gateway/{igw}", f"elastic-ip/{allocation}"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "ec2:*",
                "Resource": [f"arn:aws:ec2:*:{account}:{a}" for a in arns],
            },
        ],
    }
    iam = module_cloud.client("iam")
    user = f"vpc-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine = module_cloud.client(
        "ec2", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]
    )
    no = "UnauthorizedOperation"
    route = {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0"}
    fails(no, mine.create_route, **route, GatewayId=igw)
    fails(no, mine.disassociate_route_table, AssociationId=assoc)
    fails(no, mine.replace_route_table_association, AssociationId=assoc, RouteTableId=other_table)
    fails(no, mine.replace_network_acl_association, AssociationId=acl_assoc, NetworkAclId=acl)
    fails(no, mine.create_nat_gateway, SubnetId=allowed, AllocationId=allocation)
    fails(no, mine.associate_address, AllocationId=allocation, NetworkInterfaceId=eni)
    fails(no, mine.release_address, AllocationId=allocation)
    # What the Deny does not name goes through.
    mine.replace_route_table_association(AssociationId=mine_assoc, RouteTableId=other_table)
    ec2.create_route(**route, GatewayId=igw)
    ec2.release_address(AllocationId=allocation)


def test_aws_cli(module_cloud: Cloud) -> None:
    pytest.importorskip("awscli")
    out = module_cloud.aws_cli(
        "ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true", check=True
    ).stdout
    assert [v["IsDefault"] for v in json.loads(out)["Vpcs"]] == [True]
    out = module_cloud.aws_cli("ec2", "describe-account-attributes", check=True).stdout
    names = {a["AttributeName"] for a in json.loads(out)["AccountAttributes"]}
    assert "default-vpc" in names


def test_euca_commands(module_cloud: Cloud) -> None:
    from tests.e2e.test_euca_commands import Euca, matches

    euca = Euca(module_cloud)
    ID = r"[0-9a-f]{17}"
    (vpc_line,) = euca("euca-create-vpc", "10.20.0.0/16")
    matches([vpc_line], rf"VPC\tvpc-{ID}\tavailable\t10\.20\.0\.0/16\tdopt-{ID}\tdefault")
    vpc = vpc_line.split("\t")[1]
    lines = euca("euca-describe-vpcs", vpc)
    assert lines == [vpc_line]
    (subnet_line,) = euca("euca-create-subnet", "-c", vpc, "-i", "10.20.1.0/24")
    matches(
        [subnet_line],
        rf"SUBNET\tsubnet-{ID}\tavailable\t{vpc}\t10\.20\.1\.0/24\t251\t[\w-]+\tfalse\tfalse",
    )
    subnet = subnet_line.split("\t")[1]
    assert euca("euca-describe-subnets", "--filter", f"vpc-id={vpc}") == [subnet_line]
    (igw_line,) = euca("euca-create-internet-gateway")
    matches([igw_line], rf"INTERNETGATEWAY\tigw-{ID}")
    igw = igw_line.split("\t")[1]
    assert euca("euca-attach-internet-gateway", igw, "-c", vpc) == []
    table_lines = euca("euca-create-route-table", vpc)
    matches(
        table_lines,
        rf"ROUTETABLE\trtb-{ID}\t{vpc}",
        r"ROUTE\tlocal\tactive\t10\.20\.0\.0/16\tCreateRouteTable",
    )
    table = table_lines[0].split("\t")[1]
    assert euca("euca-create-route", table, "-d", "0.0.0.0/0", "-g", igw) == [
        f"ROUTE\t{igw}\t0.0.0.0/0"
    ]
    (assoc,) = euca("euca-associate-route-table", table, "-s", subnet)
    matches([assoc], rf"ASSOCIATION\trtbassoc-{ID}\t{table}\t{subnet}")
    matches(
        euca("euca-describe-route-tables", table),
        rf"ROUTETABLE\t{table}\t{vpc}",
        r"ROUTE\tlocal\tactive\t10\.20\.0\.0/16\tCreateRouteTable",
        rf"ROUTE\t{igw}\tactive\t0\.0\.0\.0/0\tCreateRoute",
        rf"ASSOCIATION\trtbassoc-{ID}\t{subnet}\t",
    )
    done = euca.run("euca-create-vpc", "10.0.0.0/8")
    assert done.returncode != 0 and "InvalidVpc.Range" in done.stderr
