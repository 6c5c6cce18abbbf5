"""The euca2ools line formats, from botocore-shaped responses (no network)."""

from __future__ import annotations

import pytest

from mallee.euca.commands.instance_types import TypeRow, type_table, zone_capacity
from mallee.euca.commands.services import service_row
from mallee.euca.ec2_lines import (
    address_row,
    group_lines,
    image_lines,
    instance_row,
    reservation_lines,
)
from mallee.euca.output import field, render, resource_type, tabify
from tests.seed import SEED_TABLE

pytestmark = pytest.mark.nodb


# The seed's euca-describe-services line, as the blog printed it (tabs shown as spaces).
SEED_SERVICE = (
    "SERVICE user-api API_110 API_110 ENABLED 45 arn:euca:bootstrap:API_110:user-api:API_110/"
)


def seed_rows() -> list[TypeRow]:
    rows = []
    for line in SEED_TABLE.splitlines()[1:]:
        name, cpu, memory, disk = line.split("\t")[1].split()
        rows.append(TypeRow(name, int(cpu), int(memory), int(disk)))
    return rows


def test_fields_print_as_euca2ools_does() -> None:
    assert [field(v) for v in (None, True, False, 0, 5, "x", "")] == [
        "",
        "true",
        "false",
        "0",
        "5",
        "x",
        "",
    ]
    assert tabify(["A", None, 0, False]) == "A\t\t0\tfalse"
    assert tabify(["A", None, ""], empty="(nil)") == "A\t(nil)\t(nil)"
    assert render("as is\tline") == "as is\tline"


def test_resource_types_by_prefix() -> None:
    assert resource_type("i-0123abcd") == "instance"
    assert resource_type("emi-261f818e") == "image"
    assert resource_type("eki-1") == resource_type("eri-1") == "image"
    assert resource_type("sg-1") == "security-group"
    assert resource_type("vol-65803EB8") == "volume"
    assert resource_type("nonsense") is None


def test_the_seed_instance_type_table() -> None:
    assert "\n".join(type_table(seed_rows())) == SEED_TABLE


def test_capacity_columns_from_the_verbose_zone_listing() -> None:
    verbose = [
        {"ZoneName": "one", "State": "available"},
        {"ZoneName": "|- vm types", "State": "free / max   cpu   ram  disk"},
        {"ZoneName": "|- m1.small", "State": "0006 / 0008   1    256     5"},
        {"ZoneName": "|- t1.micro", "State": "0008 / 0008   1    256     5"},
    ]
    capacity = zone_capacity(verbose)
    assert capacity == {"one": {"m1.small": (6, 8), "t1.micro": (8, 8)}}
    rows = [TypeRow("m1.small", 1, 256, 5, 6, 8), TypeRow("t1.micro", 1, 256, 5, 8, 8)]
    table = type_table(rows, capacity=True)
    assert table[0] == "INSTANCETYPE\tName      CPUs  Memory (MB)  Disk (GB)  Used / Total  Used %"
    assert table[1] == "INSTANCETYPE\tm1.small     1          256          5     2 /     8     25%"
    assert table[2].endswith("0 /     8      0%")


def test_service_line_matches_the_seed() -> None:
    # SERVICE user-api API_110 API_110 ENABLED 45 arn:euca:bootstrap:API_110:user-api:API_110/
    status = {
        "ServiceId": {
            "Type": "user-api",
            "Partition": "",
            "Name": "API_110",
            "FullName": "arn:euca:bootstrap:API_110:user-api:API_110/",
        },
        "LocalState": "ENABLED",
        "LocalEpoch": 45,
    }
    assert tabify(service_row(status)).split("\t") == SEED_SERVICE.split(" ")


INSTANCE = {
    "InstanceId": "i-25d3415e",
    "ImageId": "emi-90e83973",
    "PublicDnsName": "euca-1-2-3-4.eucalyptus.example",
    "PrivateDnsName": "ip-10-0-0-2.internal",
    "State": {"Name": "running"},
    "KeyName": "batman1key",
    "AmiLaunchIndex": 0,
    "InstanceType": "m1.small",
    "LaunchTime": "2013-06-10T12:29:41.082Z",
    "Placement": {"AvailabilityZone": "PARTI00", "Tenancy": "default"},
    "KernelId": "eki-1",
    "RamdiskId": "eri-1",
    "Monitoring": {"State": "enabled"},
    "PublicIpAddress": "1.2.3.4",
    "PrivateIpAddress": "10.0.0.2",
    "RootDeviceType": "instance-store",
    "VirtualizationType": "paravirtual",
    "Hypervisor": "xen",
    "ClientToken": "tok",
    "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "default"}],
    "EbsOptimized": False,
    "Architecture": "x86_64",
    "Tags": [{"Key": "Name", "Value": "web"}],
}


def test_instance_line_columns() -> None:
    fields = tabify(instance_row(INSTANCE)).split("\t")
    assert len(fields) == 33
    assert fields[:8] == [
        "INSTANCE",
        "i-25d3415e",
        "emi-90e83973",
        "euca-1-2-3-4.eucalyptus.example",
        "ip-10-0-0-2.internal",
        "running",
        "batman1key",
        "0",
    ]
    assert fields[9:12] == ["m1.small", "2013-06-10T12:29:41.082Z", "PARTI00"]
    assert fields[15:18] == ["monitoring-enabled", "1.2.3.4", "10.0.0.2"]
    assert fields[-5:] == ["sg-1", "default", "false", "", "x86_64"]


def test_reservation_lines_take_groups_from_instances() -> None:
    lines = [
        tabify(r)
        for r in reservation_lines(
            {
                "ReservationId": "r-1",
                "OwnerId": "123",
                "Instances": [INSTANCE],
            }
        )
    ]
    assert lines[0] == "RESERVATION\tr-1\t123\tdefault"
    assert lines[1].startswith("INSTANCE\ti-25d3415e\t")
    assert lines[2] == "TAG\tinstance\ti-25d3415e\tName\tweb"


def test_image_line() -> None:
    image = {
        "ImageId": "emi-1",
        "Name": "demo",
        "OwnerId": "123",
        "State": "available",
        "Public": True,
        "Architecture": "x86_64",
        "ImageType": "machine",
        "KernelId": "eki-1",
        "RamdiskId": "eri-1",
        "RootDeviceType": "instance-store",
        "VirtualizationType": "hvm",
        "Hypervisor": "kvm",
    }
    (line,) = [tabify(r) for r in image_lines(image)]
    assert line == (
        "IMAGE\temi-1\t123/demo\t123\tavailable\tpublic\tx86_64\tmachine\teki-1\teri-1\t"
        "\tinstance-store\thvm\tkvm"
    )


def test_group_and_permission_lines() -> None:
    group = {
        "GroupId": "sg-1",
        "OwnerId": "123",
        "GroupName": "web",
        "Description": "web servers",
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0/0"}]},
            {
                "IpProtocol": "tcp",
                "FromPort": 1,
                "ToPort": 65535,
                "UserIdGroupPairs": [{"UserId": "123", "GroupName": "default"}],
            },
        ],
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }
    lines = [tabify(r) for r in group_lines(group)]
    assert lines == [
        "GROUP\tsg-1\t123\tweb\tweb servers\t",
        "PERMISSION\t123\tweb\tALLOWS\ttcp\t22\t22\tFROM\tCIDR\t0/0\tingress",
        "PERMISSION\t123\tweb\tALLOWS\ttcp\t1\t65535\tFROM\tUSER\t123\tGRPNAME\tdefault\tingress",
        "PERMISSION\t123\tweb\tALLOWS\t-1\t\t\tTO\tCIDR\t0.0.0.0/0\tegress",
    ]


def test_address_line() -> None:
    row = address_row({"PublicIp": "1.2.3.4", "InstanceId": "i-1", "AllocationId": "eipalloc-1"})
    assert tabify(row) == "ADDRESS\t1.2.3.4\ti-1\tstandard\teipalloc-1\t\t\t"
