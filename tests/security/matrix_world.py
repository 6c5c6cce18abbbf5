"""The world the security matrix attacks: account A with resources of every kind, account B,
and the principals that send every operation (see test_matrix.py).

A's resources are made by A's `operator` (a user allowed everything); B is another account's
root. Every principal reaches every service by its Eucalyptus path (/services/<Name>), the one
route that needs no signature, so unsigned requests reach the same service as signed ones.
"""

from __future__ import annotations

import functools
import gzip
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from mallee.api.models.client import MalleeLoader
from mallee.gateway.catalog import SERVICES, ServiceSpec
from tests.e2e.conftest import REGION, Cloud, Keys

OBJECT_BYTES = b"the bytes of account A's private object"
PASSWORD = "Matrix-Passw0rd-1!"
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@dataclass(frozen=True)
class Principal:
    """Who sends a column of the matrix. `keys` None: unsigned; `overlay`: members added to
    every request (the other account naming A in IAM's DelegateAccount)."""

    name: str
    keys: Keys | None
    overlay: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class World:
    cloud: Cloud
    a_id: str
    a_name: str
    operator: Keys
    principals: dict[str, Principal]
    # Per service: request members naming A's resources (see matrix_requests.build_params).
    named: dict[str, dict[str, Any]]
    # Strings that belong to A alone: an answer to B that carries one leaked it.
    tokens: frozenset[str]
    tmp: Path
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, principal: Principal) -> Any:
        """One client per (service, principal): requests reuse its keep-alive connections."""
        key = (service, principal.name)
        if key not in self._clients:
            self._clients[key] = service_client(self.cloud, spec_named(service), principal.keys)
        return self._clients[key]

    def admin(self, service: str) -> Any:
        return self.client(service, Principal("admin", self.cloud.admin))

    def as_operator(self, service: str) -> Any:
        return self.client(service, Principal("operator", self.operator))


def spec_named(name: str) -> ServiceSpec:
    return next(s for s in SERVICES if s.name == name)


class _SharedModels(MalleeLoader):
    """MalleeLoader, each model copied once and shared by every client, as botocore's own
    loader does: a copy per client costs most of a second for EC2's, and the matrix makes
    dozens of clients."""

    def __init__(self) -> None:
        super().__init__()
        self._models: dict[str, Any] = {}

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if type_name != "service-2" or api_version is not None:
            return super().load_service_model(service_name, type_name, api_version)
        if service_name not in self._models:
            self._models[service_name] = super().load_service_model(service_name, type_name)
        return self._models[service_name]


@functools.cache
def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _SharedModels())
    return boto3.session.Session(botocore_session=core)


def service_client(cloud: Cloud, spec: ServiceSpec, keys: Keys | None) -> Any:
    """A client of `spec`'s at its Eucalyptus path, as mallee_client makes them."""
    extra: dict[str, Any] = {} if keys is not None else {"signature_version": UNSIGNED}
    config = Config(
        retries={"max_attempts": 1},
        parameter_validation=False,
        # Host prefixes (S3's WriteGetObjectResponse) would name hosts that do not resolve.
        inject_host_prefix=False,
        s3={"addressing_style": "path"},
        max_pool_connections=8,
        read_timeout=30,
        **extra,
    )
    return _session().client(
        spec.name,
        endpoint_url=f"{cloud.endpoint}/services/{spec.path_names[0]}",
        region_name=REGION,
        aws_access_key_id=keys.access_key if keys else None,
        aws_secret_access_key=keys.secret_key if keys else None,
        aws_session_token=keys.session_token if keys else None,
        config=config,
    )


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _new_account(cloud: Cloud, name: str) -> tuple[str, Keys]:
    iam = service_client(cloud, spec_named("iam"), cloud.admin)
    account_id = str(iam.create_account(AccountName=name)["Account"]["AccountId"])
    key = iam.create_access_key(DelegateAccount=name)["AccessKey"]
    return account_id, Keys(key["AccessKeyId"], key["SecretAccessKey"])


def _user(iam: Any, name: str, *policies: tuple[str, str]) -> Keys:
    iam.create_user(UserName=name)
    for policy_name, document in policies:
        iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


def deny_services_policy() -> str:
    """Allow everything, then Deny each catalog service's every action (`<prefix>:*`)."""
    prefixes = sorted({s.provider.action_prefix for s in SERVICES})
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": [f"{p}:*" for p in prefixes], "Resource": "*"},
            ],
        }
    )


def deny_one_policy(action: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": action, "Resource": "*"},
            ],
        }
    )


def user_with_policies(world: World, name: str, *policies: tuple[str, str]) -> Keys:
    """A new user of A's, made by A's operator."""
    return _user(world.as_operator("iam"), name, *policies)


def _ssh_public_key() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def _wait_running(ec2: Any, instance_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        state = found[0]["Instances"][0]["State"]["Name"]
        if state == "running":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{instance_id} is {state}, not running")
        time.sleep(0.2)


def _private_image(ec2: Any, tmp: Path, name: str) -> str:
    """A machine image of the cloud admin's (registering is the admin's alone), private: only
    A is given leave to launch it."""
    machine = tmp / "root.qcow2"
    machine.write_bytes(b"QFI\xfb" + bytes(65536))
    kernel = bytearray(8192)
    kernel[0x202:0x206] = b"HdrS"
    (tmp / "vmlinuz").write_bytes(bytes(kernel))
    (tmp / "initrd.img").write_bytes(gzip.compress(b"070701" + bytes(512)))
    eki = ec2.register_image(ImageLocation=f"file:{tmp / 'vmlinuz'}", Name=f"{name}-k")
    eri = ec2.register_image(ImageLocation=f"file:{tmp / 'initrd.img'}", Name=f"{name}-r")
    emi = ec2.register_image(
        ImageLocation=f"file:{machine}",
        Name=name,
        Architecture="x86_64",
        KernelId=eki["ImageId"],
        RamdiskId=eri["ImageId"],
        RootDeviceName="/dev/sda1",
    )
    return str(emi["ImageId"])


def build_world(cloud: Cloud, tmp: Path) -> World:
    a_name, b_name = _unique("matrix-a"), _unique("matrix-b")
    a_id, a_root = _new_account(cloud, a_name)
    _, b_root = _new_account(cloud, b_name)
    root_iam = service_client(cloud, spec_named("iam"), a_root)
    operator = _user(root_iam, "operator", ("all", ALLOW_ALL))
    world = World(cloud, a_id, a_name, operator, {}, {}, frozenset(), tmp)
    no_policy = user_with_policies(world, "no-policy")
    denied = user_with_policies(world, "denied", ("deny-services", deny_services_policy()))
    forged = Keys(operator.access_key, "forged" + operator.secret_key[6:])
    sts = service_client(cloud, spec_named("sts"), no_policy)
    session = sts.get_session_token()["Credentials"]
    no_policy_session = Keys(
        session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    )
    world.principals = {
        p.name: p
        for p in (
            Principal("anonymous", None),
            Principal("forged", forged),
            Principal("no-policy", no_policy),
            Principal("no-policy-session", no_policy_session),
            Principal("denied", denied),
            Principal("other-account", b_root),
            Principal("other-account-delegating", b_root, {"DelegateAccount": a_name}),
        )
    }
    iam_named, iam_tokens, role_arn = _iam_resources(world)
    s3_named, s3_tokens = _s3_resources(world)
    ec2_named, ec2_tokens = _ec2_resources(world)
    empyrean_named = _empyrean_names(world)
    world.named = {
        "iam": iam_named,
        "s3": s3_named,
        "ec2": ec2_named,
        "sts": {
            "RoleArn": role_arn,
            "RoleSessionName": "matrix-session",
            "AccessKeyId": iam_named["AccessKeyId"],
        },
        "empyrean": empyrean_named,
    }
    world.tokens = frozenset(
        {a_id, a_name, operator.access_key, no_policy.access_key, denied.access_key}
        | {no_policy_session.access_key}
        | iam_tokens
        | s3_tokens
        | ec2_tokens
    )
    return world


def _iam_resources(world: World) -> tuple[dict[str, Any], set[str], str]:
    iam = world.as_operator("iam")
    victim = iam.create_user(UserName="victim")["User"]
    key = iam.create_access_key(UserName="victim")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="victim", Password=PASSWORD)
    iam.put_user_policy(UserName="victim", PolicyName="matrix-inline", PolicyDocument=ALLOW_ALL)
    iam.tag_user(UserName="victim", Tags=[{"Key": "owner", "Value": "a"}])
    group = iam.create_group(GroupName="matrix-group")["Group"]
    iam.add_user_to_group(GroupName="matrix-group", UserName="victim")
    iam.put_group_policy(
        GroupName="matrix-group", PolicyName="matrix-inline", PolicyDocument=ALLOW_ALL
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{world.a_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="matrix-role", AssumeRolePolicyDocument=json.dumps(trust))
    role = role["Role"]
    iam.put_role_policy(
        RoleName="matrix-role", PolicyName="matrix-inline", PolicyDocument=ALLOW_ALL
    )
    iam.tag_role(RoleName="matrix-role", Tags=[{"Key": "owner", "Value": "a"}])
    iam.create_instance_profile(InstanceProfileName="matrix-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="matrix-profile", RoleName="matrix-role")
    alias = f"{world.a_name}-alias"
    iam.create_account_alias(AccountAlias=alias)
    # What a request would set if it were allowed: everything open, to anyone.
    open_trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:*"}],
        }
    )
    named = {
        "UserName": "victim",
        "GroupName": "matrix-group",
        "RoleName": "matrix-role",
        "InstanceProfileName": "matrix-profile",
        "PolicyName": "matrix-inline",
        "AccessKeyId": key,
        "AccountAlias": alias,
        "AccountName": world.a_name,
        "Password": PASSWORD + "x",
        "OldPassword": PASSWORD,
        "NewPassword": PASSWORD + "y",
        "PolicyDocument": ALLOW_ALL,
        "AssumeRolePolicyDocument": open_trust,
        "Tags": [{"Key": "matrix", "Value": "probe"}],
        "TagKeys": ["owner"],
        "Status": "Inactive",
        "NewUserName": "renamed-by-matrix",
        "NewGroupName": "renamed-by-matrix",
        "NewPath": "/moved/",
    }
    tokens = {key, alias, victim["UserId"], group["GroupId"], role["RoleId"], role["Arn"]}
    return named, tokens, str(role["Arn"])


def _s3_resources(world: World) -> tuple[dict[str, Any], set[str]]:
    s3 = world.as_operator("s3")
    bucket = _unique("matrix-bucket")
    key = "private/object.txt"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=OBJECT_BYTES)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="private/upload.bin")["UploadId"]
    part = s3.upload_part(
        Bucket=bucket, Key="private/upload.bin", UploadId=upload, PartNumber=1, Body=b"part"
    )
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "owner", "Value": "a"}]})
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://a.example"]}]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "keep",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "tmp/"},
                    "Expiration": {"Days": 3650},
                }
            ]
        },
    )
    victim_arn = f"arn:aws:iam::{world.a_id}:user/victim"
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": victim_arn},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
    )
    public_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )
    upload_ops = ("ListParts", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload")
    named: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        **{f"{op}.Key": "private/upload.bin" for op in (*upload_ops, "AbortMultipartUpload")},
        "UploadId": upload,
        "CopySource": f"{bucket}/{key}",
        "Body": b"overwritten by the matrix",
        "PartNumber": 1,
        "Policy": public_policy,
        "ACL": "public-read-write",
        "Tagging:structure": {"TagSet": [{"Key": "matrix", "Value": "probe"}]},
        "Tagging:string": "matrix=probe",
        "Delete": {"Objects": [{"Key": key}]},
        "CORSConfiguration": {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]},
        "PutBucketLifecycleConfiguration.LifecycleConfiguration": {
            "Rules": [
                {
                    "ID": "wipe",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": 1},
                }
            ]
        },
        "VersioningConfiguration": {"Status": "Enabled"},
        "MultipartUpload": {"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    }
    return named, {bucket, upload, OBJECT_BYTES.decode()}


def _ec2_resources(world: World) -> tuple[dict[str, Any], set[str]]:
    ec2 = world.as_operator("ec2")
    admin_ec2 = world.admin("ec2")
    image = _private_image(admin_ec2, world.tmp, _unique("matrix-image"))
    admin_ec2.modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"UserId": world.a_id}]}
    )
    default = admin_ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    key_pair = ec2.create_key_pair(KeyName="matrix-key")
    group = ec2.create_security_group(GroupName="matrix-sg", Description="group of account A")[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="10.9.0.0/16"
    )
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    rule_ids = [r["SecurityGroupRuleId"] for r in rules["SecurityGroupRules"]]
    run = ec2.run_instances(
        ImageId=default["Images"][0]["ImageId"],
        MinCount=1,
        MaxCount=1,
        InstanceType="m1.small",
        KeyName="matrix-key",
        SecurityGroupIds=[group],
    )
    instance = run["Instances"][0]["InstanceId"]
    _wait_running(ec2, instance)
    ec2.create_tags(Resources=[instance], Tags=[{"Key": "Name", "Value": "a-instance"}])
    address = ec2.allocate_address()
    ec2.associate_address(InstanceId=instance, AllocationId=address["AllocationId"])
    # An attached volume: detaching, deleting or modifying it must be refused to every column.
    zone = run["Instances"][0]["Placement"]["AvailabilityZone"]
    volume = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    _wait_volume(ec2, volume, "available")
    ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    # A's snapshot of it: no other account may see, use, share, copy or delete it.
    snapshot = ec2.create_snapshot(VolumeId=volume, Description="matrix")["SnapshotId"]
    _wait_snapshot(ec2, snapshot)
    vpc = _vpc_resources(ec2)
    template = ec2.create_launch_template(
        LaunchTemplateName="matrix-template",
        LaunchTemplateData={"ImageId": default["Images"][0]["ImageId"], "KeyName": "matrix-key"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    named = {
        "InstanceId": instance,
        "InstanceIds": [instance],
        "ImageId": image,
        "ImageIds": [image],
        "GroupId": group,
        "GroupIds": [group],
        "GroupName": "matrix-sg",
        "GroupNames": ["matrix-sg"],
        "KeyPairId": key_pair["KeyPairId"],
        "KeyPairIds": [key_pair["KeyPairId"]],
        "KeyName": "matrix-key",
        "KeyNames": ["matrix-key"],
        "AllocationId": address["AllocationId"],
        "AllocationIds": [address["AllocationId"]],
        "PublicIp": address["PublicIp"],
        "PublicIps": [address["PublicIp"]],
        "Resources": [instance],
        "Tags": [{"Key": "matrix", "Value": "probe"}],
        "SecurityGroupRuleIds": rule_ids,
        "SourceSecurityGroupOwnerId": world.a_id,
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": "m1.small",
        "PublicKeyMaterial": _ssh_public_key(),
        "VolumeId": volume,
        "VolumeIds": [volume],
        "SnapshotId": snapshot,
        "SnapshotIds": [snapshot],
        "SourceSnapshotId": snapshot,
        "LaunchTemplateId": template,
        "LaunchTemplateName": "matrix-template",
        "LaunchTemplateIds": [template],
        **{name: value for name, value in vpc.items()},
        **{f"{name}s": [value] for name, value in vpc.items()},
    }
    tokens = {
        instance,
        image,
        group,
        key_pair["KeyPairId"],
        key_pair["KeyFingerprint"],
        address["AllocationId"],
        address["PublicIp"],
        volume,
        snapshot,
        template,
        *rule_ids,
        *vpc.values(),
    }
    return named, tokens


def _vpc_resources(ec2: Any) -> dict[str, str]:
    """A's VPC with a subnet, an attached gateway, a route table, an ACL, DHCP options and a
    network interface (request member -> id)."""
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    dopt = ec2.create_dhcp_options(
        DhcpConfigurations=[{"Key": "domain-name", "Values": ["matrix.internal"]}]
    )["DhcpOptions"]["DhcpOptionsId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
    return {
        "VpcId": vpc,
        "SubnetId": subnet,
        "InternetGatewayId": igw,
        "RouteTableId": table,
        "NetworkAclId": acl,
        "DhcpOptionsId": dopt,
        "NetworkInterfaceId": eni["NetworkInterfaceId"],
    }


def _wait_snapshot(ec2: Any, snapshot_id: str) -> None:
    deadline = time.monotonic() + 30
    while ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["State"] != "completed":
        assert time.monotonic() < deadline, f"{snapshot_id} is not completed"
        time.sleep(0.1)


def _wait_volume(ec2: Any, volume_id: str, state: str) -> None:
    deadline = time.monotonic() + 30
    while ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"] != state:
        assert time.monotonic() < deadline, f"{volume_id} is not {state}"
        time.sleep(0.1)


def _empyrean_names(world: World) -> dict[str, Any]:
    """The cloud's own services and properties: what a non-admin must not reconfigure."""
    services = world.admin("empyrean").describe_services()["ServiceStatuses"]
    api = next(s["ServiceId"] for s in services if s["ServiceId"]["Type"] == "user-api")
    return {
        "Name": api["Name"],
        "Type": api["Type"],
        "ServiceName": [api["Name"]],
        "State": "DISABLED",
        "ModifyPropertyValue.Name": "authentication.access_keys_limit",
        "Value": "100",
        "Property": ["authentication.access_keys_limit"],
    }


# Members that name the same thing two ways: a request names it one way only.
ALTERNATIVES: dict[str, tuple[tuple[str, ...], ...]] = {
    "ec2": (
        ("GroupId", "GroupName"),
        ("GroupIds", "GroupNames"),
        ("KeyPairId", "KeyName"),
        ("KeyPairIds", "KeyNames"),
        ("AllocationId", "PublicIp"),
        ("AllocationIds", "PublicIps"),
        ("LaunchTemplateId", "LaunchTemplateName"),
        ("LaunchTemplateIds", "LaunchTemplateNames"),
    ),
}
