"""Instances, network interfaces, security groups and elastic IPs in VPCs (issue #18),
through boto3 against a live cloud with the fake hypervisor: the default VPC is EDGE, so an
instance has one interface (its node's address) in the default subnet of its zone; an instance
launched into a user VPC's subnet has the subnet's address from the start, the VPC's groups,
and keeps them when placed. (tests/vm/test_vpc_instances.py boots them for real.)"""

from __future__ import annotations

import time
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


def image(ec2: Any) -> str:
    found = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    return str(found["Images"][0]["ImageId"])


def default_vpc(ec2: Any) -> dict[str, Any]:
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return dict(vpc)


def default_subnet(ec2: Any) -> dict[str, Any]:
    vpc = default_vpc(ec2)["VpcId"]
    (subnet,) = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    return dict(subnet)


def instance(ec2: Any, iid: str) -> dict[str, Any]:
    (r,) = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
    return dict(r["Instances"][0])


def running(ec2: Any, iid: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = instance(ec2, iid)
        if found["State"]["Name"] == "running" and found.get("PrivateIpAddress"):
            return found
        assert time.monotonic() < deadline, found["State"]
        time.sleep(0.2)


def terminated(ec2: Any, iid: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while instance(ec2, iid)["State"]["Name"] != "terminated":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def count_instances(ec2: Any) -> int:
    return sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"])


def interfaces(ec2: Any, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
    found = ec2.describe_network_interfaces(
        Filters=[{"Name": k, "Values": [v]} for k, v in (filters or {}).items()]
    )
    return list(found["NetworkInterfaces"])


def test_instance_in_the_default_subnet_has_its_interface(ec2: Any) -> None:
    subnet = default_subnet(ec2)
    vpc_id = subnet["VpcId"]
    launched = ec2.run_instances(
        ImageId=image(ec2),
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet["SubnetId"],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "a"}]}],
    )["Instances"][0]
    iid = launched["InstanceId"]
    assert launched["VpcId"] == vpc_id and launched["SubnetId"] == subnet["SubnetId"]
    (pending_eni,) = launched["NetworkInterfaces"]
    assert pending_eni["Attachment"]["DeviceIndex"] == 0
    found = running(ec2, iid)
    assert found["VpcId"] == vpc_id and found["SubnetId"] == subnet["SubnetId"]
    dashed = found["PrivateIpAddress"].replace(".", "-")
    assert found["PrivateDnsName"] == f"euca-{dashed}.eucalyptus.internal"
    (eni,) = found["NetworkInterfaces"]
    assert eni["NetworkInterfaceId"] == pending_eni["NetworkInterfaceId"]
    assert eni["PrivateIpAddress"] == found["PrivateIpAddress"]
    assert eni["MacAddress"] and eni["Status"] == "in-use"
    assert eni["Attachment"]["DeleteOnTermination"] is True
    assert [g["GroupName"] for g in eni["Groups"]] == ["default"]
    assert eni["Groups"] == [
        {"GroupId": g["GroupId"], "GroupName": g["GroupName"]} for g in found["SecurityGroups"]
    ]
    if found.get("PublicIpAddress"):
        assert eni["Association"]["PublicIp"] == found["PublicIpAddress"]
    eni_id = eni["NetworkInterfaceId"]

    # DescribeInstances' VPC filters.
    for name, value in [
        ("vpc-id", vpc_id),
        ("subnet-id", subnet["SubnetId"]),
        ("network-interface.network-interface-id", eni_id),
        ("network-interface.subnet-id", subnet["SubnetId"]),
        ("network-interface.vpc-id", vpc_id),
        ("network-interface.addresses.private-ip-address", found["PrivateIpAddress"]),
        ("network-interface.attachment.device-index", "0"),
        ("network-interface.group-id", eni["Groups"][0]["GroupId"]),
        ("instance.group-id", eni["Groups"][0]["GroupId"]),
    ]:
        listed = ec2.describe_instances(Filters=[{"Name": name, "Values": [value]}])
        ids = [i["InstanceId"] for r in listed["Reservations"] for i in r["Instances"]]
        assert iid in ids, name
    none = ec2.describe_instances(Filters=[{"Name": "subnet-id", "Values": ["subnet-00000000"]}])
    assert none["Reservations"] == []

    # DescribeNetworkInterfaces: by id, by each filter, and its pages.
    (described,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])[
        "NetworkInterfaces"
    ]
    assert described["Attachment"]["InstanceId"] == iid
    assert described["AvailabilityZone"] == subnet["AvailabilityZone"]
    assert described["VpcId"] == vpc_id and described["SubnetId"] == subnet["SubnetId"]
    for name, value in [
        ("network-interface-id", eni_id),
        ("subnet-id", subnet["SubnetId"]),
        ("vpc-id", vpc_id),
        ("private-ip-address", found["PrivateIpAddress"]),
        ("attachment.instance-id", iid),
        ("attachment.device-index", "0"),
        ("group-id", eni["Groups"][0]["GroupId"]),
        ("status", "in-use"),
        ("availability-zone", subnet["AvailabilityZone"]),
    ]:
        assert eni_id in [e["NetworkInterfaceId"] for e in interfaces(ec2, {name: value})], name
    assert interfaces(ec2, {"status": "available", "attachment.instance-id": iid}) == []
    every = [e["NetworkInterfaceId"] for e in interfaces(ec2)]
    pages, token = [], None
    while True:
        page = ec2.describe_network_interfaces(
            MaxResults=5, **({"NextToken": token} if token else {})
        )
        pages += [e["NetworkInterfaceId"] for e in page["NetworkInterfaces"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == every
    fails("InvalidNetworkInterfaceID.NotFound", ec2.describe_network_interfaces,
          NetworkInterfaceIds=["eni-0123456789abcdef0"])  # fmt: skip
    fails("InvalidNetworkInterfaceID.Malformed", ec2.describe_network_interfaces,
          NetworkInterfaceIds=["bogus"])  # fmt: skip
    fails("InvalidParameterValue", ec2.describe_network_interfaces,
          Filters=[{"Name": "bogus", "Values": ["x"]}])  # fmt: skip

    # The interface goes with its instance.
    ec2.terminate_instances(InstanceIds=[iid])
    terminated(ec2, iid)
    assert interfaces(ec2, {"network-interface-id": eni_id}) == []
    gone = instance(ec2, iid)
    assert "VpcId" not in gone and "NetworkInterfaces" not in gone


def test_launch_options_and_refusals(ec2: Any) -> None:
    subnet = default_subnet(ec2)
    name = f"g-{uuid.uuid4().hex[:6]}"
    group = ec2.create_security_group(GroupName=name, Description=name)["GroupId"]
    launched = ec2.run_instances(
        ImageId=image(ec2),
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[
            {
                "DeviceIndex": 0,
                "SubnetId": subnet["SubnetId"],
                "Groups": [group],
                "AssociatePublicIpAddress": False,
                "Description": "primary",
            }
        ],
    )["Instances"][0]
    iid = launched["InstanceId"]
    found = running(ec2, iid)
    assert "PublicIpAddress" not in found
    (eni,) = found["NetworkInterfaces"]
    assert eni["Description"] == "primary" and [g["GroupId"] for g in eni["Groups"]] == [group]
    by_ids = ec2.run_instances(
        ImageId=image(ec2), MinCount=1, MaxCount=1, SecurityGroupIds=[group]
    )["Instances"][0]
    assert [g["GroupId"] for g in by_ids["SecurityGroups"]] == [group]

    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    own = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    vpc_group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    before = count_instances(ec2)
    base = {"ImageId": image(ec2), "MinCount": 1, "MaxCount": 1}
    for params, code in [
        ({"SubnetId": own, "SecurityGroups": [name]}, "InvalidParameterCombination"),
        (
            {"SubnetId": subnet["SubnetId"], "NetworkInterfaces": [{"DeviceIndex": 0}]},
            "InvalidParameterCombination",
        ),
        ({"SubnetId": "subnet-0123abcd"}, "InvalidSubnetID.NotFound"),
        ({"SubnetId": "bogus"}, "InvalidSubnetID.Malformed"),
        ({"SubnetId": subnet["SubnetId"], "SecurityGroupIds": [vpc_group]}, "InvalidParameter"),
        ({"SubnetId": own, "SecurityGroupIds": [group]}, "InvalidParameter"),
        ({"PrivateIpAddress": "10.111.1.50"}, "Unsupported"),
    ]:
        fails(code, ec2.run_instances, **base, **params)
    assert count_instances(ec2) == before, "nothing half-made"
    ec2.terminate_instances(InstanceIds=[iid, by_ids["InstanceId"]])
    terminated(ec2, iid)
    ec2.delete_security_group(GroupId=vpc_group)
    ec2.delete_subnet(SubnetId=own)
    ec2.delete_vpc(VpcId=vpc)


def test_launch_into_a_user_subnet(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.32.0.0/16")["Vpc"]["VpcId"]
    # A /28: 11 usable addresses, .4 to .14 (AWS keeps the first four and the last).
    small = ec2.create_subnet(VpcId=vpc, CidrBlock="10.32.1.0/28")["Subnet"]
    sid = small["SubnetId"]
    (vpc_default,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    base = {"ImageId": image(ec2), "SubnetId": sid}
    first = ec2.run_instances(**base, MinCount=1, MaxCount=1)["Instances"][0]
    # The address and the VPC's default group are there at once, before placement.
    assert first["PrivateIpAddress"] == "10.32.1.4"
    assert first["VpcId"] == vpc and first["SubnetId"] == sid
    assert [g["GroupId"] for g in first["SecurityGroups"]] == [vpc_default["GroupId"]]
    (eni,) = first["NetworkInterfaces"]
    assert eni["PrivateIpAddress"] == "10.32.1.4" and eni["MacAddress"]
    chosen = ec2.run_instances(**base, MinCount=1, MaxCount=1, PrivateIpAddress="10.32.1.9")
    second = chosen["Instances"][0]
    assert second["PrivateIpAddress"] == "10.32.1.9"
    fails("InvalidIPAddress.InUse", ec2.run_instances, **base, MinCount=1, MaxCount=1,
          PrivateIpAddress="10.32.1.9")  # fmt: skip
    fails("InvalidParameterValue", ec2.run_instances, **base, MinCount=1, MaxCount=1,
          PrivateIpAddress="10.32.2.9")  # fmt: skip
    # Placement keeps the subnet's address and MAC.
    placed = running(ec2, first["InstanceId"])
    assert placed["PrivateIpAddress"] == "10.32.1.4"
    assert placed["NetworkInterfaces"][0]["MacAddress"] == eni["MacAddress"]
    # 9 left: MinCount above that is refused whole, MaxCount above it gets what is free.
    before = count_instances(ec2)
    fails("InsufficientFreeAddressesInSubnet", ec2.run_instances, **base, MinCount=10,
          MaxCount=10)  # fmt: skip
    assert count_instances(ec2) == before, "nothing half-made"
    subnet_after = ec2.describe_subnets(SubnetIds=[sid])["Subnets"][0]
    assert subnet_after["AvailableIpAddressCount"] == 9
    many = ec2.run_instances(**base, MinCount=2, MaxCount=12)["Instances"]
    ips = sorted(i["PrivateIpAddress"] for i in many)
    assert len(many) == 9 and "10.32.1.9" not in ips and "10.32.1.4" not in ips
    # A terminated instance's address is free again.
    ec2.terminate_instances(InstanceIds=[first["InstanceId"]])
    terminated(ec2, first["InstanceId"])
    again = ec2.run_instances(**base, MinCount=1, MaxCount=1)["Instances"][0]
    assert again["PrivateIpAddress"] == "10.32.1.4"
    rest = [again["InstanceId"], second["InstanceId"], *(i["InstanceId"] for i in many)]
    fails("DependencyViolation", ec2.delete_subnet, SubnetId=sid)
    ec2.terminate_instances(InstanceIds=rest)
    for iid in rest:
        terminated(ec2, iid)
    ec2.delete_subnet(SubnetId=sid)
    ec2.delete_vpc(VpcId=vpc)


def test_security_groups_belong_to_vpcs(ec2: Any) -> None:
    default = default_vpc(ec2)["VpcId"]
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    (own_default,) = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "SecurityGroups"
    ]
    assert own_default["GroupName"] == "default" and own_default["VpcId"] == vpc
    assert own_default["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert own_default["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    edge = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    assert edge["VpcId"] == default
    assert edge["IpPermissionsEgress"][0]["IpProtocol"] == "-1"
    # Names are unique per VPC.
    name = f"same-{uuid.uuid4().hex[:6]}"
    in_default = ec2.create_security_group(GroupName=name, Description="d")["GroupId"]
    in_vpc = ec2.create_security_group(GroupName=name, Description="d", VpcId=vpc)["GroupId"]
    fails("InvalidGroup.Duplicate", ec2.create_security_group,
          GroupName=name, Description="d", VpcId=vpc)  # fmt: skip
    fails("InvalidVpcID.NotFound", ec2.create_security_group,
          GroupName="x", Description="d", VpcId="vpc-0123456789abcdef0")  # fmt: skip
    by_vpc = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert {g["GroupId"] for g in by_vpc["SecurityGroups"]} == {own_default["GroupId"], in_vpc}
    listed = ec2.describe_security_groups(GroupIds=[in_default])["SecurityGroups"][0]
    assert listed["VpcId"] == default

    # A rule names only a group of the same network: no peer of another VPC or of EDGE.
    def allow_from(group: str, peer: str) -> Any:
        pair = {"GroupId": peer}
        perms = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [pair]}]
        return ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=perms)

    fails("InvalidGroup.NotFound", allow_from, group=in_vpc, peer=in_default)
    fails("InvalidGroup.NotFound", allow_from, group=in_default, peer=in_vpc)
    assert allow_from(in_vpc, own_default["GroupId"])["Return"]
    # A peer named by GroupName is looked for in the rule's own group's VPC: `name` is both
    # an EDGE group and one of this VPC, and the VPC's is the one meant.
    by_name = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                "UserIdGroupPairs": [{"GroupName": name}]}]  # fmt: skip
    ec2.authorize_security_group_ingress(GroupId=own_default["GroupId"], IpPermissions=by_name)
    (shown,) = ec2.describe_security_groups(GroupIds=[own_default["GroupId"]])["SecurityGroups"]
    (web,) = [p for p in shown["IpPermissions"] if p.get("FromPort") == 80]
    assert [g["GroupId"] for g in web["UserIdGroupPairs"]] == [in_vpc]
    ec2.revoke_security_group_ingress(GroupId=own_default["GroupId"], IpPermissions=by_name)
    ec2.revoke_security_group_ingress(
        GroupId=in_vpc,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                        "UserIdGroupPairs": [{"GroupId": own_default["GroupId"]}]}],
    )  # fmt: skip
    # A VPC with a group of its own is not deletable; its default group goes with it.
    fails("DependencyViolation", ec2.delete_vpc, VpcId=vpc)
    ec2.delete_security_group(GroupId=in_vpc)
    ec2.delete_vpc(VpcId=vpc)
    fails("InvalidGroup.NotFound", ec2.describe_security_groups,
          GroupIds=[own_default["GroupId"]])  # fmt: skip
    ec2.delete_security_group(GroupId=in_default)


def test_network_interfaces_of_their_own(ec2: Any) -> None:
    subnet = default_subnet(ec2)
    made = ec2.create_network_interface(
        SubnetId=subnet["SubnetId"],
        Description="spare",
        SecondaryPrivateIpAddressCount=1,
        TagSpecifications=[
            {"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "spare"}]}
        ],
    )["NetworkInterface"]
    eni = made["NetworkInterfaceId"]
    assert made["Status"] == "available" and "Attachment" not in made
    assert made["TagSet"] == [{"Key": "Name", "Value": "spare"}]
    assert len(made["PrivateIpAddresses"]) == 2
    assert [g["GroupName"] for g in made["Groups"]] == ["default"]
    primary = made["PrivateIpAddress"]
    # An address an interface holds is given to no instance.
    iid = ec2.run_instances(ImageId=image(ec2), MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    held = {a["PrivateIpAddress"] for a in made["PrivateIpAddresses"]}
    assert running(ec2, iid)["PrivateIpAddress"] not in held

    assert interfaces(ec2, {"tag:Name": "spare"})[0]["NetworkInterfaceId"] == eni
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Description={"Value": "d2"})
    out = ec2.describe_network_interface_attribute(NetworkInterfaceId=eni, Attribute="description")
    assert out["Description"] == {"Value": "d2"}
    fails("UnsupportedOperation", ec2.modify_network_interface_attribute,
          NetworkInterfaceId=eni, SourceDestCheck={"Value": False})  # fmt: skip
    extra = ec2.assign_private_ip_addresses(
        NetworkInterfaceId=eni, SecondaryPrivateIpAddressCount=1
    )
    (added,) = extra["AssignedPrivateIpAddresses"]
    ec2.unassign_private_ip_addresses(
        NetworkInterfaceId=eni, PrivateIpAddresses=[added["PrivateIpAddress"]]
    )
    fails("InvalidParameterValue", ec2.unassign_private_ip_addresses,
          NetworkInterfaceId=eni, PrivateIpAddresses=[added["PrivateIpAddress"]])  # fmt: skip
    fails("InvalidIPAddress.InUse", ec2.create_network_interface,
          SubnetId=subnet["SubnetId"], PrivateIpAddress=primary)  # fmt: skip

    # EDGE gives a VM one NIC: attaching a second is the instance type's limit, as AWS says.
    fails("AttachmentLimitExceeded", ec2.attach_network_interface,
          NetworkInterfaceId=eni, InstanceId=iid, DeviceIndex=1)  # fmt: skip
    fails("InvalidNetworkInterfaceID.NotFound", ec2.attach_network_interface,
          NetworkInterfaceId="eni-0123456789abcdef0", InstanceId=iid, DeviceIndex=1)  # fmt: skip
    primary_eni = instance(ec2, iid)["NetworkInterfaces"][0]
    fails("OperationNotPermitted", ec2.detach_network_interface,
          AttachmentId=primary_eni["Attachment"]["AttachmentId"])  # fmt: skip
    fails("InvalidNetworkInterface.InUse", ec2.delete_network_interface,
          NetworkInterfaceId=primary_eni["NetworkInterfaceId"])  # fmt: skip
    fails("PrivateIpAddressLimitExceeded", ec2.assign_private_ip_addresses,
          NetworkInterfaceId=primary_eni["NetworkInterfaceId"],
          SecondaryPrivateIpAddressCount=1)  # fmt: skip

    # A primary interface's groups are its instance's.
    name = f"n-{uuid.uuid4().hex[:6]}"
    group = ec2.create_security_group(GroupName=name, Description=name)["GroupId"]
    ec2.modify_network_interface_attribute(
        NetworkInterfaceId=primary_eni["NetworkInterfaceId"], Groups=[group]
    )
    assert [g["GroupId"] for g in instance(ec2, iid)["SecurityGroups"]] == [group]
    fails("DependencyViolation", ec2.delete_security_group, GroupId=group)

    ec2.delete_network_interface(NetworkInterfaceId=eni)
    fails("InvalidNetworkInterfaceID.NotFound", ec2.delete_network_interface,
          NetworkInterfaceId=eni)  # fmt: skip
    ec2.terminate_instances(InstanceIds=[iid])
    terminated(ec2, iid)
    ec2.delete_security_group(GroupId=group)


def test_network_interface_in_a_user_vpc(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.32.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.32.1.0/28")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
    # The subnet's first four are AWS's.
    assert eni["PrivateIpAddress"] == "10.32.1.4" and eni["VpcId"] == vpc
    fails("InvalidParameterValue", ec2.create_network_interface,
          SubnetId=subnet, PrivateIpAddress="10.32.2.9")  # fmt: skip
    fails("InsufficientFreeAddressesInSubnet", ec2.create_network_interface,
          SubnetId=subnet, SecondaryPrivateIpAddressCount=20)  # fmt: skip
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(
        RouteTableId=table,
        DestinationCidrBlock="0.0.0.0/0",
        NetworkInterfaceId=eni["NetworkInterfaceId"],
    )
    fails("DependencyViolation", ec2.delete_subnet, SubnetId=subnet)
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.delete_route_table(RouteTableId=table)
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)


def test_addresses_in_the_vpc_domain(ec2: Any) -> None:
    iid = ec2.run_instances(ImageId=image(ec2), MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]
    found = running(ec2, iid)
    eni_id = found["NetworkInterfaces"][0]["NetworkInterfaceId"]
    vpc_eip = ec2.allocate_address(Domain="vpc")
    classic = ec2.allocate_address(Domain="standard")
    assert vpc_eip["Domain"] == "vpc" and classic["Domain"] == "standard"
    by_eni = ec2.associate_address(AllocationId=vpc_eip["AllocationId"], NetworkInterfaceId=eni_id)
    (listed,) = ec2.describe_addresses(AllocationIds=[vpc_eip["AllocationId"]])["Addresses"]
    assert listed["AssociationId"] == by_eni["AssociationId"]
    assert listed["InstanceId"] == iid and listed["NetworkInterfaceId"] == eni_id
    assert listed["PrivateIpAddress"] == found["PrivateIpAddress"]
    assert listed["Domain"] == "vpc"
    assert (
        instance(ec2, iid)["NetworkInterfaces"][0]["Association"]["PublicIp"]
        == (vpc_eip["PublicIp"])
    )
    filtered = ec2.describe_addresses(
        Filters=[{"Name": "network-interface-id", "Values": [eni_id]}]
    )
    assert [a["AllocationId"] for a in filtered["Addresses"]] == [vpc_eip["AllocationId"]]
    domains = ec2.describe_addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}])["Addresses"]
    assert vpc_eip["AllocationId"] in [a["AllocationId"] for a in domains]
    assert classic["AllocationId"] not in [a["AllocationId"] for a in domains]
    # Moving it to an interface of no instance needs AllowReassociation.
    spare = ec2.create_network_interface(SubnetId=found["SubnetId"])["NetworkInterface"]
    spare_id = spare["NetworkInterfaceId"]
    fails("Resource.AlreadyAssociated", ec2.associate_address,
          AllocationId=vpc_eip["AllocationId"], NetworkInterfaceId=spare_id)  # fmt: skip
    fails("InvalidParameterValue", ec2.associate_address, AllocationId=vpc_eip["AllocationId"],
          NetworkInterfaceId=spare_id, PrivateIpAddress="10.111.1.254",
          AllowReassociation=True)  # fmt: skip
    ec2.associate_address(
        AllocationId=vpc_eip["AllocationId"], NetworkInterfaceId=spare_id, AllowReassociation=True
    )
    (listed,) = ec2.describe_addresses(AllocationIds=[vpc_eip["AllocationId"]])["Addresses"]
    assert "InstanceId" not in listed and listed["NetworkInterfaceId"] == spare_id
    assert listed["PrivateIpAddress"] == spare["PrivateIpAddress"]
    (spare_now,) = interfaces(ec2, {"network-interface-id": spare_id})
    assert spare_now["Association"]["PublicIp"] == vpc_eip["PublicIp"]
    assert "Association" not in instance(ec2, iid)["NetworkInterfaces"][0] or (
        instance(ec2, iid)["NetworkInterfaces"][0]["Association"]["PublicIp"] != vpc_eip["PublicIp"]
    )
    fails("InvalidIPAddress.InUse", ec2.release_address, AllocationId=vpc_eip["AllocationId"])
    ec2.disassociate_address(AssociationId=listed["AssociationId"])
    ec2.delete_network_interface(NetworkInterfaceId=spare_id)
    fails("InvalidParameterCombination", ec2.associate_address,
          AllocationId=classic["AllocationId"], InstanceId=iid,
          NetworkInterfaceId=eni_id)  # fmt: skip
    moved = ec2.associate_address(
        AllocationId=classic["AllocationId"], InstanceId=iid, AllowReassociation=True
    )
    assert moved["AssociationId"].startswith("eipassoc-")
    ec2.disassociate_address(AssociationId=moved["AssociationId"])

    # An address a NAT gateway holds is the gateway's.
    vpc = ec2.create_vpc(CidrBlock="10.33.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.33.1.0/24")["Subnet"]["SubnetId"]
    nat_eip = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=nat_eip["AllocationId"])
    fails("Resource.AlreadyAssociated", ec2.associate_address,
          AllocationId=nat_eip["AllocationId"], InstanceId=iid)  # fmt: skip
    ec2.delete_nat_gateway(NatGatewayId=nat["NatGateway"]["NatGatewayId"])
    for address in (vpc_eip, classic):
        ec2.release_address(AllocationId=address["AllocationId"])
    ec2.terminate_instances(InstanceIds=[iid])
    terminated(ec2, iid)


def test_another_account_sees_none_of_it(ec2: Any, other: Any) -> None:
    subnet = default_subnet(ec2)
    eni = ec2.create_network_interface(SubnetId=subnet["SubnetId"])["NetworkInterface"]
    eni_id = eni["NetworkInterfaceId"]
    assert eni_id not in [e["NetworkInterfaceId"] for e in interfaces(other)]
    fails("InvalidNetworkInterfaceID.NotFound", other.describe_network_interfaces,
          NetworkInterfaceIds=[eni_id])  # fmt: skip
    fails("InvalidNetworkInterfaceID.NotFound", other.delete_network_interface,
          NetworkInterfaceId=eni_id)  # fmt: skip
    fails("InvalidSubnetID.NotFound", other.run_instances, ImageId=image(ec2), MinCount=1,
          MaxCount=1, SubnetId=subnet["SubnetId"])  # fmt: skip
    fails("InvalidSubnetID.NotFound", other.create_network_interface,
          SubnetId=subnet["SubnetId"])  # fmt: skip
    theirs = default_subnet(other)
    assert theirs["SubnetId"] != subnet["SubnetId"]
    ec2.delete_network_interface(NetworkInterfaceId=eni_id)


def test_iam_deny_on_a_network_interface(module_cloud: Cloud, ec2: Any, tmp_path: Path) -> None:
    import json

    eni = ec2.create_network_interface(SubnetId=default_subnet(ec2)["SubnetId"])[
        "NetworkInterface"
    ]["NetworkInterfaceId"]
    iam = module_cloud.client("iam")
    user = f"u{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "ec2:*",
                "Resource": f"arn:aws:ec2:*:*:network-interface/{eni}",
            },
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    limited = module_cloud.client(
        "ec2", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]
    )
    fails("UnauthorizedOperation", limited.delete_network_interface, NetworkInterfaceId=eni)
    ec2.delete_network_interface(NetworkInterfaceId=eni)
