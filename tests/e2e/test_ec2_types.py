"""Instance types: AWS's DescribeInstanceTypes over the seed's table, and Eucalyptus'
ModifyInstanceTypeAttribute (cloud admin only) through the patched model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mallee.api.models.client import mallee_client
from mallee.services.ec2.instance_types import SEED_TYPES
from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


def euca(cloud: Cloud, access: str | None = None, secret: str | None = None) -> Any:
    """An ec2 client that knows the Eucalyptus operations (as euca2ools does)."""
    return mallee_client(
        "ec2",
        cloud.endpoint,
        region_name="eucalyptus",
        aws_access_key_id=access or cloud.admin.access_key,
        aws_secret_access_key=secret or cloud.admin.secret_key,
    )


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def names(response: dict[str, Any]) -> list[str]:
    return [t["InstanceType"] for t in response["InstanceTypes"]]


def test_seed_table_in_aws_shape(ec2: Any) -> None:
    types = ec2.describe_instance_types()["InstanceTypes"]
    assert [t["InstanceType"] for t in types] == [t[0] for t in SEED_TYPES]
    for t, (_, cpus, memory, disk) in zip(types, SEED_TYPES, strict=True):
        assert t["VCpuInfo"]["DefaultVCpus"] == cpus
        assert t["MemoryInfo"]["SizeInMiB"] == memory
        assert t["InstanceStorageSupported"] is True
        assert t["InstanceStorageInfo"]["TotalSizeInGB"] == disk
        assert t["ProcessorInfo"]["SupportedArchitectures"] == ["x86_64"]
        assert "instance-store" in t["SupportedRootDeviceTypes"]
        assert t["CurrentGeneration"] is True


def test_filters_and_names(ec2: Any) -> None:
    def pick(*filters: tuple[str, list[str]]) -> list[str]:
        return names(
            ec2.describe_instance_types(Filters=[{"Name": n, "Values": v} for n, v in filters])
        )

    assert pick(("instance-type", ["m1.*"])) == ["m1.small", "m1.medium", "m1.large", "m1.xlarge"]
    assert pick(("instance-type", ["c*.*xlarge"])) == [
        "c1.xlarge",
        "cc1.4xlarge",
        "cc2.8xlarge",
        "cg1.4xlarge",
        "cr1.8xlarge",
    ]
    assert pick(("vcpu-info.default-vcpus", ["16"])) == [
        "cc2.8xlarge",
        "cg1.4xlarge",
        "cr1.8xlarge",
    ]
    assert pick(("memory-info.size-in-mib", ["256"]), ("instance-type", ["t*"])) == ["t1.micro"]
    assert pick(("instance-storage-info.total-size-in-gb", ["24000"])) == ["hs1.8xlarge"]
    assert pick(("processor-info.supported-architecture", ["arm64"])) == []
    picked = ec2.describe_instance_types(InstanceTypes=["t1.micro", "m1.small"])
    assert sorted(names(picked)) == ["m1.small", "t1.micro"]
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_types(InstanceTypes=["m1.small", "m9.huge"])
    assert code(err) == "InvalidInstanceType"
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_types(Filters=[{"Name": "colour", "Values": ["x"]}])
    assert code(err) == "InvalidParameterValue"


def test_pages(ec2: Any) -> None:
    first = ec2.describe_instance_types(MaxResults=5)
    assert len(first["InstanceTypes"]) == 5 and first["NextToken"]
    pages = ec2.get_paginator("describe_instance_types").paginate(PaginationConfig={"PageSize": 5})
    sizes = []
    listed = []
    for p in pages:
        sizes.append(len(p["InstanceTypes"]))
        listed += names(p)
    assert sizes == [5, 5, 5, 3] and listed == [t[0] for t in SEED_TYPES]
    for bad in ({"MaxResults": 101}, {"NextToken": "%%%"}):
        with pytest.raises(ClientError) as err:
            ec2.describe_instance_types(**bad)
        assert code(err) == "InvalidParameterValue", bad


def test_admin_modifies_and_resets_a_type(cloud: Cloud, ec2: Any, tmp_path: Path) -> None:
    admin = euca(cloud)
    try:
        out = admin.modify_instance_type_attribute(Name="m1.large", Cpu=3, Memory=768)
        assert out["InstanceType"] == {"Name": "m1.large", "Cpu": 3, "Memory": 768, "Disk": 10}
        assert out["PreviousInstanceType"] == {
            "Name": "m1.large",
            "Cpu": 2,
            "Memory": 512,
            "Disk": 10,
        }
        listed = ec2.describe_instance_types(InstanceTypes=["m1.large"])["InstanceTypes"][0]
        assert (listed["VCpuInfo"]["DefaultVCpus"], listed["MemoryInfo"]["SizeInMiB"]) == (3, 768)
        # New launches get the new size.
        emi = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
        run = ec2.run_instances(
            ImageId=emi["Images"][0]["ImageId"], InstanceType="m1.large", MinCount=1, MaxCount=1
        )
        ec2.terminate_instances(InstanceIds=[run["Instances"][0]["InstanceId"]])
        for params, expected in (
            ({"Name": "m1.large", "Cpu": 0}, "InvalidParameterValue"),
            ({"Name": "m9.huge", "Cpu": 2}, "InvalidParameterValue"),
            ({"Name": "m1.large", "Reset": True, "Disk": 20}, "InvalidParameterCombination"),
        ):
            with pytest.raises(ClientError) as err:
                admin.modify_instance_type_attribute(**params)
            assert code(err) == expected, params
    finally:
        reset = admin.modify_instance_type_attribute(Name="m1.large", Reset=True)
    assert reset["InstanceType"] == {"Name": "m1.large", "Cpu": 2, "Memory": 512, "Disk": 10}
    _, access, secret = new_account(cloud, tmp_path)
    with pytest.raises(ClientError) as err:
        euca(cloud, access, secret).modify_instance_type_attribute(Name="m1.large", Cpu=8)
    assert code(err) in ("AccessDenied", "UnauthorizedOperation")
    assert (
        ec2.describe_instance_types(InstanceTypes=["m1.large"])["InstanceTypes"][0]["VCpuInfo"][
            "DefaultVCpus"
        ]
        == 2
    )


def test_aws_cli(cloud: Cloud) -> None:
    out = cloud.aws_cli(
        "ec2",
        "describe-instance-types",
        "--filters",
        "Name=instance-type,Values=m1.small,t1.micro",
        "--query",
        "InstanceTypes[].[InstanceType,VCpuInfo.DefaultVCpus,MemoryInfo.SizeInMiB]",
        check=True,
    )
    assert sorted(json.loads(out.stdout)) == [["m1.small", 1, 256], ["t1.micro", 1, 256]]
    everything = cloud.aws_cli("ec2", "describe-instance-types", check=True)
    assert len(json.loads(everything.stdout)["InstanceTypes"]) == len(SEED_TYPES)


@pytest.mark.parametrize(
    ("path", "version"),
    [("/services/Eucalyptus", "2016-11-15"), ("/services/compute", "2014-06-15")],
)
def test_eucalyptus_style_requests_get_instance_type_details(
    cloud: Cloud, path: str, version: str
) -> None:
    """Libcloud's Eucalyptus driver (legacy path) and euca2ools 3 (an older API version) read
    Eucalyptus' instanceTypeDetails, in Eucalyptus' namespace; boto3 gets AWS's shape."""
    import xml.etree.ElementTree as ET

    import urllib3
    from botocore.auth import SigV2Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(
        "GET",
        cloud.endpoint + path,
        params={"Action": "DescribeInstanceTypes", "Version": version},
    )
    SigV2Auth(Credentials(cloud.admin.access_key, cloud.admin.secret_key)).add_auth(req)
    r = urllib3.PoolManager().request("GET", req.prepare().url)
    assert r.status == 200, r.data
    ns = {"euca": "http://msgs.eucalyptus.com/3.3.0"}
    items = ET.fromstring(r.data).findall("euca:instanceTypeDetails/euca:item", ns)
    found = {i.findtext("euca:name", namespaces=ns): i for i in items}
    aws = cloud.client("ec2").describe_instance_types()["InstanceTypes"]
    assert set(found) == {t["InstanceType"] for t in aws}
    for t in aws:
        item = found[t["InstanceType"]]
        assert [item.findtext(f"euca:{k}", namespaces=ns) for k in ("cpu", "memory", "disk")] == [
            str(t["VCpuInfo"]["DefaultVCpus"]),
            str(t["MemoryInfo"]["SizeInMiB"]),
            str(t["InstanceStorageInfo"]["TotalSizeInGB"]),
        ]
    assert b"instanceTypeSet" not in r.data
