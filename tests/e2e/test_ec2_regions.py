"""Regions and availability zones, with Eucalyptus' verbose capacity listing for the admin."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mallee.services.ec2.instance_types import SEED_TYPES
from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e

ZONE = "one"
LINE = re.compile(r"(\d{4,}) / (\d{4,}) +(\d+) +(\d+) +(\d+)")


def eucalyptus_line(free: int, most: int, cpu: int, ram: int, disk: int) -> str:
    """Eucalyptus' "%04d / %04d  %2d   %4d  %4d"."""
    return f"{free:04d} / {most:04d}  {cpu:2d}   {ram:4d}  {disk:4d}"


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_regions(cloud: Cloud, ec2: Any) -> None:
    regions = ec2.describe_regions()["Regions"]
    assert len(regions) == 1
    region = regions[0]
    assert region["RegionName"] == REGION
    assert region["Endpoint"].endswith("/services/compute")
    assert ec2.describe_regions(RegionNames=[REGION], AllRegions=True)["Regions"] == regions
    assert (
        ec2.describe_regions(Filters=[{"Name": "region-name", "Values": ["euca*"]}])["Regions"]
        == regions
    )
    assert (
        ec2.describe_regions(Filters=[{"Name": "region-name", "Values": ["us-*"]}])["Regions"] == []
    )
    with pytest.raises(ClientError) as err:
        ec2.describe_regions(RegionNames=["us-east-1"])
    assert code(err) == "InvalidParameterValue"
    out = cloud.aws_cli("ec2", "describe-regions", "--query", "Regions[].RegionName", check=True)
    assert json.loads(out.stdout) == [REGION]


def test_zones(ec2: Any) -> None:
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["State"], z["RegionName"]) for z in zones] == [
        (ZONE, "available", REGION)
    ]
    named = ec2.describe_availability_zones(ZoneNames=[ZONE])["AvailabilityZones"]
    assert [z["ZoneName"] for z in named] == [ZONE]
    filtered = ec2.describe_availability_zones(
        Filters=[
            {"Name": "state", "Values": ["available"]},
            {"Name": "zone-name", "Values": ["o*"]},
        ]
    )
    assert [z["ZoneName"] for z in filtered["AvailabilityZones"]] == [ZONE]
    with pytest.raises(ClientError) as err:
        ec2.describe_availability_zones(ZoneNames=["nowhere"])
    assert code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_availability_zones(Filters=[{"Name": "colour", "Values": ["x"]}])
    assert code(err) == "InvalidParameterValue"


def test_verbose_capacity_for_the_admin(cloud: Cloud, ec2: Any, tmp_path: Path) -> None:
    listing = ec2.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
    assert listing[0]["ZoneName"] == ZONE
    assert (listing[1]["ZoneName"], listing[1]["State"]) == (
        "|- vm types",
        "free / max   cpu   ram  disk",
    )
    rows = listing[2:]
    assert [r["ZoneName"] for r in rows] == [f"|- {t[0]}" for t in SEED_TYPES]
    for row, (_, cpus, memory, disk) in zip(rows, SEED_TYPES, strict=True):
        match = LINE.fullmatch(row["State"])
        assert match, row["State"]
        free, most, cpu, ram, size = (int(g) for g in match.groups())
        assert (cpu, ram, size) == (cpus, memory, disk)
        assert row["State"] == eucalyptus_line(free, most, cpu, ram, size)
        assert free <= most
    small = LINE.fullmatch(rows[0]["State"])
    assert small and int(small.group(2)) > 0
    # A running instance takes room: free drops below max, and max stays.
    emi = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    run = ec2.run_instances(ImageId=emi["Images"][0]["ImageId"], MinCount=1, MaxCount=1)
    iid = run["Instances"][0]["InstanceId"]
    try:
        ec2.get_waiter("instance_running").wait(
            InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        after = ec2.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"][2]
        now = LINE.fullmatch(after["State"])
        assert now and int(now.group(1)) < int(now.group(2)) == int(small.group(2))
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
    # Other accounts: "verbose" is dropped, as Eucalyptus did.
    _, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("ec2", access, secret)
    plain = other.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
    assert [z["ZoneName"] for z in plain] == [ZONE]


def test_aws_cli(cloud: Cloud) -> None:
    out = cloud.aws_cli(
        "ec2",
        "describe-availability-zones",
        "--zone-names",
        "verbose",
        "--output",
        "text",
        check=True,
    )
    assert "|- m1.small" in out.stdout and "free / max   cpu   ram  disk" in out.stdout
