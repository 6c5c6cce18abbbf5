"""EC2 key pairs, tags, images, instance types and zones through boto3 and the AWS CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_key_pairs_are_real_keys(ec2: Any, tmp_path: Path) -> None:
    name = f"k-{uuid.uuid4().hex[:6]}"
    made = ec2.create_key_pair(KeyName=name)
    assert made["KeyPairId"].startswith("key-")
    pem = tmp_path / "k.pem"
    pem.write_text(made["KeyMaterial"])
    pem.chmod(0o600)
    # The private key is usable by OpenSSH, and its public half is what the cloud stored.
    public = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(pem)], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    listed = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"][0]
    assert listed["PublicKey"].split()[1] == public
    assert listed["KeyFingerprint"] == made["KeyFingerprint"]
    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(KeyName=name)
    assert code(err) == "InvalidKeyPair.Duplicate"
    ec2.delete_key_pair(KeyName=name)
    with pytest.raises(ClientError) as err:
        ec2.describe_key_pairs(KeyNames=[name])
    assert code(err) == "InvalidKeyPair.NotFound"


def test_imported_key_fingerprint_is_md5_of_der(ec2: Any, tmp_path: Path) -> None:
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-N", "", "-f", str(key)], check=True)
    name = f"imp-{uuid.uuid4().hex[:6]}"
    out = ec2.import_key_pair(KeyName=name, PublicKeyMaterial=(tmp_path / "id.pub").read_bytes())
    der = subprocess.run(
        ["ssh-keygen", "-e", "-m", "PKCS8", "-f", str(tmp_path / "id.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    body = "".join(line for line in der.splitlines() if not line.startswith("-----"))
    expected = hashlib.md5(base64.b64decode(body)).hexdigest()
    assert out["KeyFingerprint"].replace(":", "") == expected
    with pytest.raises(ClientError) as err:
        ec2.import_key_pair(KeyName=f"{name}-bad", PublicKeyMaterial=b"not a key")
    assert code(err) == "InvalidKey.Format"
    ec2.delete_key_pair(KeyName=name)


def test_tags_and_tag_filters(ec2: Any) -> None:
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    emi = image["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=emi, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.create_tags(
        Resources=[iid], Tags=[{"Key": "env", "Value": "test"}, {"Key": "x", "Value": ""}]
    )
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert {(t["Key"], t["Value"], t["ResourceType"]) for t in tags} == {
        ("env", "test", "instance"),
        ("x", "", "instance"),
    }
    found = ec2.describe_instances(Filters=[{"Name": "tag:env", "Values": ["te*"]}])
    assert iid in [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "env", "Value": "other"}])  # value differs
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "x"}])
    left = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert [t["Key"] for t in left] == ["env"]
    with pytest.raises(ClientError) as err:
        ec2.create_tags(Resources=[iid], Tags=[{"Key": "aws:reserved", "Value": "v"}])
    assert code(err) == "InvalidParameterValue"
    ec2.terminate_instances(InstanceIds=[iid])


def test_instance_types_are_the_seed_table(ec2: Any) -> None:
    types = ec2.describe_instance_types()["InstanceTypes"]
    by_name = {t["InstanceType"]: t for t in types}
    assert len(by_name) == 18
    small = by_name["m1.small"]
    assert small["VCpuInfo"]["DefaultVCpus"] == 1
    assert small["MemoryInfo"]["SizeInMiB"] == 256
    assert small["InstanceStorageInfo"]["TotalSizeInGB"] == 5
    assert by_name["hs1.8xlarge"]["MemoryInfo"]["SizeInMiB"] == 119808
    picked = ec2.describe_instance_types(
        Filters=[{"Name": "vcpu-info.default-vcpus", "Values": ["16"]}]
    )["InstanceTypes"]
    assert {t["InstanceType"] for t in picked} == {"cc2.8xlarge", "cg1.4xlarge", "cr1.8xlarge"}


def test_regions_and_verbose_zones(cloud: Cloud, ec2: Any) -> None:
    regions = ec2.describe_regions()["Regions"]
    assert [r["RegionName"] for r in regions] == ["eucalyptus"]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == ["one"]
    verbose = ec2.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
    lines = {z["ZoneName"]: z["State"] for z in verbose}
    assert "|- m1.small" in lines
    free, _, most = lines["|- m1.small"].split()[:3]
    assert int(free) <= int(most) and int(most) > 0
    out = cloud.aws_cli("ec2", "describe-availability-zones", "--output", "json", check=True)
    assert json.loads(out.stdout)["AvailabilityZones"][0]["ZoneName"] == "one"


def test_image_launch_permissions(cloud: Cloud, ec2: Any, tmp_path: Path) -> None:
    images = ec2.describe_images(Filters=[{"Name": "image-type", "Values": ["machine"]}])
    emi = images["Images"][0]["ImageId"]
    assert images["Images"][0]["Public"] is True
    account, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("ec2", access, secret)
    # Public images are visible to every account; private ones are not.
    assert emi in [i["ImageId"] for i in other.describe_images()["Images"]]
    ec2.modify_image_attribute(
        ImageId=emi, LaunchPermission={"Remove": [{"Group": "all"}], "Add": [{"UserId": account}]}
    )
    try:
        perms = ec2.describe_image_attribute(ImageId=emi, Attribute="launchPermission")
        assert perms["LaunchPermissions"] == [{"UserId": account}]
        assert emi in [i["ImageId"] for i in other.describe_images()["Images"]]
        ec2.modify_image_attribute(ImageId=emi, LaunchPermission={"Remove": [{"UserId": account}]})
        assert emi not in [i["ImageId"] for i in other.describe_images()["Images"]]
        with pytest.raises(ClientError) as err:
            other.run_instances(ImageId=emi, MinCount=1, MaxCount=1)
        assert code(err) == "InvalidAMIID.NotFound"
    finally:
        ec2.modify_image_attribute(ImageId=emi, LaunchPermission={"Add": [{"Group": "all"}]})
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=["emi-0000000z"])
    assert code(err) == "InvalidAMIID.Malformed"


def test_cloud_admin_modifies_instance_types(cloud: Cloud, tmp_path: Path) -> None:
    from mallee.api.models.client import mallee_client

    def euca(access: str, secret: str) -> Any:
        return mallee_client(
            "ec2",
            cloud.endpoint,
            region_name="eucalyptus",
            aws_access_key_id=access,
            aws_secret_access_key=secret,
        )

    admin = euca(cloud.admin.access_key, cloud.admin.secret_key)
    out = admin.modify_instance_type_attribute(Name="m1.xlarge", Memory=1536)
    assert (out["PreviousMemory"], out["Memory"]) == (1024, 1536)
    listed = admin.describe_instance_types(InstanceTypes=["m1.xlarge"])["InstanceTypes"]
    assert listed[0]["MemoryInfo"]["SizeInMiB"] == 1536
    assert admin.modify_instance_type_attribute(Name="m1.xlarge", Reset=True)["Memory"] == 1024
    _, access, secret = new_account(cloud, tmp_path)
    with pytest.raises(ClientError) as err:
        euca(access, secret).modify_instance_type_attribute(Name="m1.xlarge", Cpu=8)
    assert code(err) in ("AccessDenied", "UnauthorizedOperation")


def test_shell_metacharacters_are_plain_text(ec2: Any, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    name = f"k;touch {marker};$(touch {marker})`touch {marker}`"
    ec2.create_key_pair(KeyName=name)
    emi = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    iid = ec2.run_instances(
        ImageId=emi["Images"][0]["ImageId"],
        MinCount=1,
        MaxCount=1,
        KeyName=name,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "n", "Value": name}]}],
    )["Instances"][0]["InstanceId"]
    found = ec2.describe_instances(Filters=[{"Name": "key-name", "Values": [name]}])
    assert [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]] == [iid]
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.delete_key_pair(KeyName=name)
    assert not marker.exists()
