"""What account A has, and the cloud's own configuration: the security matrix may change
none of it (test_matrix.test_a_is_unchanged compares a snapshot from before with one after).

Read by A's operator and the cloud admin. Volatile fields (last-used dates) are left out; a
read that fails records its error code, so a deleted resource shows as a difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from tests.security.matrix_world import World

Readers = Mapping[str, Callable[[], Any]]


def snapshot(world: World) -> dict[str, dict[str, Any]]:
    sections = {
        "iam": _iam(world),
        "s3": _s3(world),
        "ec2": _ec2(world),
        "empyrean": _empyrean(world),
    }
    return {name: {k: _read(fn) for k, fn in readers.items()} for name, readers in sections.items()}


def _read(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ClientError as err:
        return f"<{err.response['Error'].get('Code')}>"


def _iam(world: World) -> Readers:
    iam = world.as_operator("iam")
    victim = {"UserName": "victim"}
    return {
        "users": lambda: sorted(u["UserName"] for u in iam.list_users()["Users"]),
        "victim": lambda: iam.get_user(**victim)["User"]["UserId"],
        "victim_keys": lambda: sorted(
            (k["AccessKeyId"], k["Status"])
            for k in iam.list_access_keys(**victim)["AccessKeyMetadata"]
        ),
        "victim_login": lambda: iam.get_login_profile(**victim)["LoginProfile"]["UserName"],
        "victim_policies": lambda: [
            iam.get_user_policy(**victim, PolicyName=n)["PolicyDocument"]
            for n in iam.list_user_policies(**victim)["PolicyNames"]
        ],
        "victim_tags": lambda: iam.list_user_tags(**victim)["Tags"],
        "victim_groups": lambda: [
            g["GroupName"] for g in iam.list_groups_for_user(**victim)["Groups"]
        ],
        "groups": lambda: sorted(g["GroupName"] for g in iam.list_groups()["Groups"]),
        "group_policies": lambda: iam.list_group_policies(GroupName="matrix-group")["PolicyNames"],
        "roles": lambda: sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "role_trust": lambda: iam.get_role(RoleName="matrix-role")["Role"][
            "AssumeRolePolicyDocument"
        ],
        "role_policies": lambda: iam.list_role_policies(RoleName="matrix-role")["PolicyNames"],
        "role_tags": lambda: iam.list_role_tags(RoleName="matrix-role")["Tags"],
        "profile_roles": lambda: [
            r["RoleName"]
            for r in iam.get_instance_profile(InstanceProfileName="matrix-profile")[
                "InstanceProfile"
            ]["Roles"]
        ],
        "aliases": lambda: iam.list_account_aliases()["AccountAliases"],
        # Whether A still exists (other accounts may come and go on a shared cloud).
        "account": lambda: [
            a["AccountId"]
            for a in world.admin("iam").list_accounts()["Accounts"]
            if a["AccountName"] == world.a_name
        ],
    }


def _s3(world: World) -> Readers:
    s3 = world.as_operator("s3")
    bucket = {"Bucket": world.named["s3"]["Bucket"]}
    obj = {**bucket, "Key": world.named["s3"]["Key"]}
    return {
        "object": lambda: s3.get_object(**obj)["Body"].read(),
        "object_acl": lambda: s3.get_object_acl(**obj)["Grants"],
        "object_tags": lambda: s3.get_object_tagging(**obj)["TagSet"],
        "keys": lambda: [
            (o["Key"], o["ETag"]) for o in s3.list_objects_v2(**bucket).get("Contents", [])
        ],
        "uploads": lambda: [
            u["UploadId"] for u in s3.list_multipart_uploads(**bucket).get("Uploads", [])
        ],
        "acl": lambda: s3.get_bucket_acl(**bucket)["Grants"],
        "policy": lambda: s3.get_bucket_policy(**bucket)["Policy"],
        "tags": lambda: s3.get_bucket_tagging(**bucket)["TagSet"],
        "cors": lambda: s3.get_bucket_cors(**bucket)["CORSRules"],
        "lifecycle": lambda: s3.get_bucket_lifecycle_configuration(**bucket)["Rules"],
        "versioning": lambda: s3.get_bucket_versioning(**bucket).get("Status"),
    }


def _ec2(world: World) -> Readers:
    ec2 = world.as_operator("ec2")
    admin = world.admin("ec2")
    named = world.named["ec2"]
    image = {"ImageId": named["ImageId"]}

    def instance() -> Any:
        found = ec2.describe_instances(InstanceIds=named["InstanceIds"])["Reservations"]
        i = found[0]["Instances"][0]
        return (
            i["State"]["Name"],
            i.get("KeyName"),
            i.get("InstanceType"),
            i.get("PublicIpAddress"),
            sorted(g["GroupId"] for g in i.get("SecurityGroups", [])),
            sorted((t["Key"], t["Value"]) for t in i.get("Tags", [])),
        )

    def group() -> Any:
        g = ec2.describe_security_groups(GroupIds=named["GroupIds"])["SecurityGroups"][0]
        return (g["GroupName"], g["IpPermissions"], g["IpPermissionsEgress"])

    return {
        "instance": instance,
        "group": group,
        "key_pairs": lambda: [
            (k["KeyName"], k["KeyPairId"], k["KeyFingerprint"])
            for k in ec2.describe_key_pairs()["KeyPairs"]
        ],
        "addresses": lambda: [
            (a["PublicIp"], a.get("AllocationId"), a.get("InstanceId"))
            for a in ec2.describe_addresses()["Addresses"]
        ],
        "image": lambda: [
            (i["ImageId"], i["State"], i.get("Public"))
            for i in admin.describe_images(ImageIds=[image["ImageId"]])["Images"]
        ],
        "launch_permissions": lambda: admin.describe_image_attribute(
            **image, Attribute="launchPermission"
        )["LaunchPermissions"],
        "instance_types": lambda: admin.describe_instance_types()["InstanceTypes"],
        "volumes": lambda: [
            (
                v["VolumeId"],
                v["Size"],
                v["VolumeType"],
                v.get("Tags"),
                [(a["InstanceId"], a["Device"]) for a in v["Attachments"]],
            )
            for v in ec2.describe_volumes()["Volumes"]
        ],
        "snapshots": lambda: [
            (s["SnapshotId"], s["State"], s.get("Description"), s.get("Tags"))
            for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        ],
        "launch_templates": lambda: [
            (
                v["LaunchTemplateId"],
                v["VersionNumber"],
                v["DefaultVersion"],
                v["LaunchTemplateData"],
            )
            for v in ec2.describe_launch_template_versions(
                LaunchTemplateId=named["LaunchTemplateId"]
            )["LaunchTemplateVersions"]
        ],
        "snapshot_permissions": lambda: ec2.describe_snapshot_attribute(
            SnapshotId=named["SnapshotId"], Attribute="createVolumePermission"
        )["CreateVolumePermissions"],
    }


def _empyrean(world: World) -> Readers:
    empyrean = world.admin("empyrean")
    return {
        "services": lambda: sorted(
            (s["ServiceId"]["Name"], s["ServiceId"]["Type"], s["LocalState"])
            for s in empyrean.describe_services()["ServiceStatuses"]
        ),
        "properties": lambda: sorted(
            (p["Name"], p["Value"]) for p in empyrean.describe_properties()["Properties"]
        ),
    }
