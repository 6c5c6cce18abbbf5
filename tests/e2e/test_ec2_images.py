"""EC2 images through boto3 and the AWS CLI: registering local files, visibility, launch
permissions, attributes, deregistering, and AWS's error codes."""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


@dataclass
class Registered:
    kernel: str
    ramdisk: str
    machine: str
    name: str


@pytest.fixture(scope="module")
def ec2(cloud: Cloud) -> Any:
    return cloud.client("ec2")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("image-files")
    kernel = bytearray(8192)
    kernel[0x202:0x206] = b"HdrS"
    (d / "vmlinuz").write_bytes(bytes(kernel))
    (d / "initrd.img").write_bytes(gzip.compress(b"070701" + bytes(512)))
    (d / "root.qcow2").write_bytes(b"QFI\xfb" + bytes(65536))
    return {"kernel": d / "vmlinuz", "ramdisk": d / "initrd.img", "machine": d / "root.qcow2"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def register_set(ec2: Any, files: dict[str, Path]) -> Registered:
    name = unique("img")
    eki = ec2.register_image(ImageLocation=f"file:{files['kernel']}", Name=f"{name}-k")["ImageId"]
    eri = ec2.register_image(ImageLocation=f"file:{files['ramdisk']}", Name=f"{name}-r")["ImageId"]
    emi = ec2.register_image(
        ImageLocation=f"file:{files['machine']}",
        Name=name,
        Description="a test machine",
        Architecture="x86_64",
        KernelId=eki,
        RamdiskId=eri,
        RootDeviceName="/dev/sda1",
        BlockDeviceMappings=[{"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}],
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "set", "Value": name}]}],
    )["ImageId"]
    return Registered(eki, eri, emi, name)


def deregister(ec2: Any, reg: Registered) -> None:
    for image_id in (reg.machine, reg.kernel, reg.ramdisk):
        ec2.deregister_image(ImageId=image_id)


def test_register_kernel_ramdisk_machine(ec2: Any, files: dict[str, Path]) -> None:
    reg = register_set(ec2, files)
    try:
        assert reg.kernel.startswith("eki-") and reg.ramdisk.startswith("eri-")
        assert reg.machine.startswith("emi-")
        found = ec2.describe_images(ImageIds=[reg.machine, reg.kernel, reg.ramdisk])["Images"]
        by_id = {i["ImageId"]: i for i in found}
        machine = by_id[reg.machine]
        assert machine["ImageType"] == "machine" and machine["State"] == "available"
        assert (machine["KernelId"], machine["RamdiskId"]) == (reg.kernel, reg.ramdisk)
        assert machine["Public"] is False and machine["Description"] == "a test machine"
        assert machine["ImageLocation"] == f"file:{files['machine']}"
        assert machine["RootDeviceType"] == "instance-store"
        assert machine["VirtualizationType"] == "paravirtual"
        assert machine["BlockDeviceMappings"] == [
            {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}
        ]
        assert machine["Tags"] == [{"Key": "set", "Value": reg.name}]
        assert by_id[reg.kernel]["ImageType"] == "kernel"
        assert by_id[reg.ramdisk]["ImageType"] == "ramdisk"
        filtered = ec2.describe_images(
            Owners=["self"],
            Filters=[
                {"Name": "name", "Values": [f"{reg.name}*"]},
                {"Name": "image-type", "Values": ["kernel", "ramdisk"]},
                {"Name": "is-public", "Values": ["false"]},
            ],
        )["Images"]
        assert {i["ImageId"] for i in filtered} == {reg.kernel, reg.ramdisk}
        by_kernel = ec2.describe_images(Filters=[{"Name": "kernel-id", "Values": [reg.kernel]}])
        assert [i["ImageId"] for i in by_kernel["Images"]] == [reg.machine]
        by_device = ec2.describe_images(
            Filters=[{"Name": "block-device-mapping.device-name", "Values": ["/dev/sdb"]}]
        )
        assert reg.machine in [i["ImageId"] for i in by_device["Images"]]
        with pytest.raises(ClientError) as err:
            ec2.register_image(ImageLocation=f"file:{files['machine']}", Name=reg.name)
        assert code(err) == "InvalidAMIName.Duplicate"
    finally:
        deregister(ec2, reg)


def test_register_errors(cloud: Cloud, ec2: Any, files: dict[str, Path], tmp_path: Path) -> None:
    machine = f"file:{files['machine']}"
    kernel = ec2.register_image(ImageLocation=f"file:{files['kernel']}", Name=unique("k"))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ImageLocation": "bucket/image.manifest.xml", "Name": unique("b")}, "Unsupported"),
        (
            {"ImageLocation": f"file:{tmp_path}/missing", "Name": unique("m")},
            "InvalidParameterValue",
        ),
        ({"ImageLocation": "file:relative/path", "Name": unique("r")}, "InvalidParameterValue"),
        ({"ImageLocation": machine, "Name": "no;semicolons"}, "InvalidAMIName.Malformed"),
        (
            {"ImageLocation": machine, "Name": unique("a"), "Architecture": "sparc"},
            "InvalidParameterValue",
        ),
        (
            {"ImageLocation": machine, "Name": unique("k"), "KernelId": "eki-zz"},
            "InvalidAMIID.Malformed",
        ),
        (
            {"ImageLocation": machine, "Name": unique("k"), "KernelId": "eki-01234567"},
            "InvalidAMIID.NotFound",
        ),
        # A kernel given as the ramdisk.
        (
            {"ImageLocation": machine, "Name": unique("x"), "RamdiskId": kernel["ImageId"]},
            "InvalidParameterValue",
        ),
    ]
    try:
        for params, expected in cases:
            with pytest.raises(ClientError) as err:
                ec2.register_image(**params)
            assert code(err) == expected, params
        _, access, secret = new_account(cloud, tmp_path)
        other = cloud.client("ec2", access, secret)
        with pytest.raises(ClientError) as err:
            other.register_image(ImageLocation=machine, Name=unique("user"))
        assert code(err) == "AuthFailure"
    finally:
        ec2.deregister_image(ImageId=kernel["ImageId"])


def test_private_images_and_launch_permissions(
    cloud: Cloud, ec2: Any, files: dict[str, Path], tmp_path: Path
) -> None:
    reg = register_set(ec2, files)
    account, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("ec2", access, secret)
    try:
        assert reg.machine not in [i["ImageId"] for i in other.describe_images()["Images"]]
        with pytest.raises(ClientError) as err:
            other.describe_images(ImageIds=[reg.machine])
        assert code(err) == "InvalidAMIID.NotFound"
        with pytest.raises(ClientError) as err:
            other.run_instances(ImageId=reg.machine, MinCount=1, MaxCount=1)
        assert code(err) == "InvalidAMIID.NotFound"
        for image_id in (reg.machine, reg.kernel, reg.ramdisk):
            ec2.modify_image_attribute(
                ImageId=image_id, LaunchPermission={"Add": [{"UserId": account}]}
            )
        shared = {
            i["ImageId"]: i for i in other.describe_images(ExecutableUsers=["self"])["Images"]
        }
        assert set(shared) >= {reg.machine, reg.kernel, reg.ramdisk}
        # Where the owner keeps the bits is the owner's business.
        mine = shared[reg.machine]
        assert mine["ImageLocation"] == f"{mine['OwnerId']}/{reg.name}"
        perms = ec2.describe_image_attribute(ImageId=reg.machine, Attribute="launchPermission")
        assert perms["LaunchPermissions"] == [{"UserId": account}]
        run = other.run_instances(ImageId=reg.machine, MinCount=1, MaxCount=1)
        other.terminate_instances(InstanceIds=[run["Instances"][0]["InstanceId"]])
        # Shared is not owned: the other account may not change or deregister it.
        for call, params in (
            ("modify_image_attribute", {"Description": {"Value": "mine now"}}),
            ("deregister_image", {}),
            ("describe_image_attribute", {"Attribute": "launchPermission"}),
        ):
            with pytest.raises(ClientError) as err:
                getattr(other, call)(ImageId=reg.machine, **params)
            assert code(err) == "AuthFailure", call
        ec2.modify_image_attribute(
            ImageId=reg.machine, LaunchPermission={"Remove": [{"UserId": account}]}
        )
        assert reg.machine not in [i["ImageId"] for i in other.describe_images()["Images"]]
        # Public for everyone, then reset to private.
        ec2.modify_image_attribute(
            ImageId=reg.machine,
            Attribute="launchPermission",
            OperationType="add",
            UserGroups=["all"],
        )
        public = other.describe_images(ExecutableUsers=["all"], Owners=["self", "amazon"])
        assert public["Images"] == []
        assert reg.machine in [
            i["ImageId"] for i in other.describe_images(ExecutableUsers=["all"])["Images"]
        ]
        ec2.reset_image_attribute(ImageId=reg.machine, Attribute="launchPermission")
        assert reg.machine not in [i["ImageId"] for i in other.describe_images()["Images"]]
        for bad in ({"UserId": "12345"}, {"Group": "everyone"}):
            with pytest.raises(ClientError) as err:
                ec2.modify_image_attribute(ImageId=reg.machine, LaunchPermission={"Add": [bad]})
            assert code(err) == "InvalidAMIAttributeItemValue"
    finally:
        deregister(ec2, reg)


def test_image_attributes(ec2: Any, files: dict[str, Path]) -> None:
    reg = register_set(ec2, files)
    other_kernel = ec2.register_image(ImageLocation=f"file:{files['kernel']}", Name=unique("k2"))
    try:
        ec2.modify_image_attribute(ImageId=reg.machine, Description={"Value": "new text"})
        got = ec2.describe_image_attribute(ImageId=reg.machine, Attribute="description")
        assert got["Description"] == {"Value": "new text"}
        ec2.modify_image_attribute(ImageId=reg.machine, Attribute="description", Value="flat")
        assert ec2.describe_images(ImageIds=[reg.machine])["Images"][0]["Description"] == "flat"
        ec2.modify_image_attribute(
            ImageId=reg.machine, Attribute="kernel", Value=other_kernel["ImageId"]
        )
        got = ec2.describe_image_attribute(ImageId=reg.machine, Attribute="kernel")
        assert got["KernelId"] == {"Value": other_kernel["ImageId"]}
        got = ec2.describe_image_attribute(ImageId=reg.machine, Attribute="ramdisk")
        assert got["RamdiskId"] == {"Value": reg.ramdisk}
        got = ec2.describe_image_attribute(ImageId=reg.machine, Attribute="blockDeviceMapping")
        assert got["BlockDeviceMappings"][0]["DeviceName"] == "/dev/sdb"
        with pytest.raises(ClientError) as err:
            ec2.modify_image_attribute(ImageId=reg.machine, Attribute="kernel", Value=reg.ramdisk)
        assert code(err) == "InvalidParameterValue"
        with pytest.raises(ClientError) as err:
            ec2.describe_image_attribute(ImageId=reg.machine, Attribute="bootMode")
        assert code(err) == "InvalidParameterValue"
    finally:
        deregister(ec2, reg)
        ec2.deregister_image(ImageId=other_kernel["ImageId"])


def test_describe_and_deregister(ec2: Any, files: dict[str, Path]) -> None:
    reg = register_set(ec2, files)
    for params, expected in (
        ({"ImageIds": ["emi-0000000z"]}, "InvalidAMIID.Malformed"),
        ({"ImageIds": ["ami-12345"]}, "InvalidAMIID.Malformed"),
        ({"ImageIds": ["emi-01234567"]}, "InvalidAMIID.NotFound"),
        ({"Owners": ["someone"]}, "InvalidUserID.Malformed"),
        ({"ExecutableUsers": ["nobody"]}, "InvalidUserID.Malformed"),
        ({"Filters": [{"Name": "colour", "Values": ["x"]}]}, "InvalidParameterValue"),
        ({"MaxResults": 1001}, "InvalidParameterValue"),
    ):
        with pytest.raises(ClientError) as err:
            ec2.describe_images(**params)
        assert code(err) == expected, params
    pages = ec2.get_paginator("describe_images").paginate(PaginationConfig={"PageSize": 5})
    listed = [i["ImageId"] for p in pages for i in p["Images"]]
    assert len(listed) == len(set(listed)) >= 6
    assert {reg.machine, reg.kernel, reg.ramdisk} <= set(listed)
    assert ec2.deregister_image(ImageId=reg.machine)["Return"] is True
    assert reg.machine not in [i["ImageId"] for i in ec2.describe_images()["Images"]]
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=[reg.machine])
    assert code(err) == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.deregister_image(ImageId=reg.machine)
    assert code(err) == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=reg.machine, MinCount=1, MaxCount=1)
    assert code(err) == "InvalidAMIID.NotFound"
    # The name is free again once the image is gone.
    again = ec2.register_image(ImageLocation=f"file:{files['machine']}", Name=reg.name)
    ec2.deregister_image(ImageId=again["ImageId"])
    ec2.deregister_image(ImageId=reg.kernel)
    ec2.deregister_image(ImageId=reg.ramdisk)


def test_aws_cli(cloud: Cloud, files: dict[str, Path]) -> None:
    name = unique("cli")
    out = cloud.aws_cli(
        "ec2",
        "register-image",
        "--image-location",
        f"file:{files['machine']}",
        "--name",
        name,
        "--architecture",
        "x86_64",
        check=True,
    )
    emi = json.loads(out.stdout)["ImageId"]
    listed = cloud.aws_cli(
        "ec2",
        "describe-images",
        "--owners",
        "self",
        "--filters",
        f"Name=name,Values={name}",
        "--query",
        "Images[].[ImageId,ImageType,State]",
        "--output",
        "text",
        check=True,
    )
    assert listed.stdout.split() == [emi, "machine", "available"]
    cloud.aws_cli("ec2", "deregister-image", "--image-id", emi, check=True)
    bad = cloud.aws_cli("ec2", "describe-images", "--image-ids", "emi-xyz")
    assert bad.returncode != 0 and "InvalidAMIID.Malformed" in bad.stderr


def test_register_from_the_object_store(
    cloud: Cloud, ec2: Any, files: dict[str, Path], tmp_path: Path
) -> None:
    s3 = cloud.client("s3")
    bucket = unique("img")
    s3.create_bucket(Bucket=bucket)
    for path in files.values():
        s3.upload_file(str(path), bucket, f"images/{path.name}")
    loc = {kind: f"{bucket}/images/{path.name}" for kind, path in files.items()}
    eki = ec2.register_image(ImageLocation=loc["kernel"], Name=unique("s3k"))["ImageId"]
    eri = ec2.register_image(ImageLocation=loc["ramdisk"], Name=unique("s3r"))["ImageId"]
    emi = ec2.register_image(
        ImageLocation=loc["machine"], Name=unique("s3m"), KernelId=eki, RamdiskId=eri
    )["ImageId"]
    assert (eki[:3], eri[:3], emi[:3]) == ("eki", "eri", "emi")
    image = ec2.describe_images(ImageIds=[emi])["Images"][0]
    assert image["KernelId"] == eki and image["RamdiskId"] == eri
    # The image keeps its bits when the object goes away (an AMI outlives its upload).
    s3.delete_object(Bucket=bucket, Key=f"images/{files['machine'].name}")
    iid = ec2.run_instances(ImageId=emi, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[iid])

    with pytest.raises(ClientError) as err:
        ec2.register_image(ImageLocation=f"{bucket}/nope", Name=unique("x"))
    assert code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.register_image(ImageLocation=f"{bucket}/b.manifest.xml", Name=unique("x"))
    assert code(err) == "Unsupported"
    # Another account cannot register this account's private objects.
    _, access, secret = new_account(cloud, tmp_path)
    other = cloud.client("ec2", access, secret)
    with pytest.raises(ClientError) as err:
        other.register_image(ImageLocation=loc["kernel"], Name=unique("x"))
    assert code(err) == "AuthFailure"
