"""The EC2 line formats of euca2ools (RESERVATION, INSTANCE, IMAGE, GROUP, ...).

Each function takes a resource as botocore returns it (CamelCase keys, timestamps kept as the
service's text) and returns the lines euca2ools prints for it, as lists of fields.
"""

from __future__ import annotations

from typing import Any

from mallee.euca.output import tag_lines

Obj = dict[str, Any]
Row = list[object]


def reservation_lines(reservation: Obj) -> list[Row]:
    groups = ", ".join(
        g.get("GroupName") or g.get("GroupId") or "" for g in reservation.get("Groups") or []
    )
    if not groups:
        # EC2-classic reservations name their groups; mallee puts them on the instances.
        names: list[str] = []
        for instance in reservation.get("Instances") or []:
            for g in instance.get("SecurityGroups") or []:
                name = g.get("GroupName") or g.get("GroupId") or ""
                if name and name not in names:
                    names.append(name)
        groups = ", ".join(names)
    lines: list[Row] = [
        ["RESERVATION", reservation.get("ReservationId"), reservation.get("OwnerId"), groups]
    ]
    instances = sorted(reservation.get("Instances") or [], key=lambda i: i.get("LaunchTime") or "")
    for instance in instances:
        lines += instance_lines(instance)
    return lines


def instance_row(i: Obj) -> Row:
    placement: Obj = i.get("Placement") or {}
    monitoring = (i.get("Monitoring") or {}).get("State")
    return [
        "INSTANCE",
        i.get("InstanceId"),
        i.get("ImageId"),
        i.get("PublicDnsName"),
        i.get("PrivateDnsName"),
        (i.get("State") or {}).get("Name"),
        i.get("KeyName"),
        i.get("AmiLaunchIndex"),
        ",".join(p.get("ProductCodeId", "") for p in i.get("ProductCodes") or []),
        i.get("InstanceType"),
        i.get("LaunchTime"),
        placement.get("AvailabilityZone"),
        i.get("KernelId"),
        i.get("RamdiskId"),
        i.get("Platform"),
        f"monitoring-{monitoring}" if monitoring else None,
        i.get("PublicIpAddress"),
        i.get("PrivateIpAddress"),
        i.get("VpcId"),
        i.get("SubnetId"),
        i.get("RootDeviceType"),
        i.get("InstanceLifecycle"),
        i.get("SpotInstanceRequestId"),
        None,  # the license: EC2 has none to show
        placement.get("GroupName"),
        i.get("VirtualizationType"),
        i.get("Hypervisor"),
        i.get("ClientToken"),
        ",".join(g.get("GroupId", "") for g in i.get("SecurityGroups") or []),
        placement.get("Tenancy"),
        i.get("EbsOptimized"),
        (i.get("IamInstanceProfile") or {}).get("Arn"),
        i.get("Architecture"),
    ]


def instance_lines(i: Obj) -> list[Row]:
    lines = [instance_row(i)]
    for device in i.get("BlockDeviceMappings") or []:
        ebs: Obj = device.get("Ebs") or {}
        lines.append(
            [
                "BLOCKDEVICE",
                device.get("DeviceName"),
                ebs.get("VolumeId"),
                ebs.get("AttachTime"),
                ebs.get("DeleteOnTermination"),
                ebs.get("VolumeType"),
                ebs.get("Iops"),
            ]
        )
    return lines + tag_lines(i.get("InstanceId", ""), i.get("Tags"))


def image_lines(image: Obj) -> list[Row]:
    owner = image.get("OwnerId")
    name = image.get("Name")
    location = f"{owner or ''}/{name}" if name else image.get("ImageLocation")
    lines: list[Row] = [
        [
            "IMAGE",
            image.get("ImageId"),
            location,
            image.get("ImageOwnerAlias") or owner,
            image.get("State"),
            "public" if image.get("Public") else "private",
            image.get("Architecture"),
            image.get("ImageType"),
            image.get("KernelId"),
            image.get("RamdiskId"),
            image.get("Platform"),
            image.get("RootDeviceType"),
            image.get("VirtualizationType"),
            image.get("Hypervisor"),
        ]
    ]
    for mapping in image.get("BlockDeviceMappings") or []:
        lines.append(block_device_mapping_row(mapping))
    return lines + tag_lines(image.get("ImageId", ""), image.get("Tags"))


def block_device_mapping_row(mapping: Obj) -> Row:
    if mapping.get("VirtualName"):
        return [
            "BLOCKDEVICEMAPPING",
            "EPHEMERAL",
            mapping.get("DeviceName"),
            mapping.get("VirtualName"),
        ]
    ebs: Obj = mapping.get("Ebs") or {}
    return [
        "BLOCKDEVICEMAPPING",
        "EBS",
        mapping.get("DeviceName"),
        ebs.get("SnapshotId"),
        ebs.get("VolumeSize"),
        ebs.get("DeleteOnTermination"),
        ebs.get("VolumeType"),
        ebs.get("Iops"),
    ]


def _ports(permission: Obj) -> Row:
    return [permission.get("IpProtocol"), permission.get("FromPort"), permission.get("ToPort")]


def _permission_rows(group: Obj, permission: Obj, egress: bool) -> list[Row]:
    base: Row = ["PERMISSION", group.get("OwnerId"), group.get("GroupName"), "ALLOWS"]
    base += _ports(permission)
    way, direction = ("TO", "egress") if egress else ("FROM", "ingress")
    rows: list[Row] = []
    for cidr in permission.get("IpRanges") or []:
        rows.append([*base, way, "CIDR", cidr.get("CidrIp"), direction])
    for other in permission.get("UserIdGroupPairs") or []:
        target = (
            ["ID", other["GroupId"]]
            if other.get("GroupId")
            else ["GRPNAME", other.get("GroupName")]
        )
        rows.append([*base, way, "USER", other.get("UserId"), *target, direction])
    return rows


def group_lines(group: Obj) -> list[Row]:
    lines: list[Row] = [
        [
            "GROUP",
            group.get("GroupId"),
            group.get("OwnerId"),
            group.get("GroupName"),
            group.get("Description"),
            group.get("VpcId"),
        ]
    ]
    for permission in group.get("IpPermissions") or []:
        lines += _permission_rows(group, permission, egress=False)
    for permission in group.get("IpPermissionsEgress") or []:
        lines += _permission_rows(group, permission, egress=True)
    resource = group.get("GroupId") or group.get("GroupName") or ""
    return lines + tag_lines(resource, group.get("Tags"))


def address_row(address: Obj) -> Row:
    return [
        "ADDRESS",
        address.get("PublicIp"),
        address.get("InstanceId"),
        address.get("Domain") or "standard",
        address.get("AllocationId"),
        address.get("AssociationId"),
        address.get("NetworkInterfaceId"),
        address.get("PrivateIpAddress"),
    ]


def keypair_row(keypair: Obj) -> Row:
    return ["KEYPAIR", keypair.get("KeyName"), keypair.get("KeyFingerprint")]


def zone_row(zone: Obj) -> Row:
    messages = ", ".join(m.get("Message", "") for m in zone.get("Messages") or [])
    return ["AVAILABILITYZONE", zone.get("ZoneName"), zone.get("State"), messages]


def volume_lines(volume: Obj) -> list[Row]:
    lines: list[Row] = [
        [
            "VOLUME",
            volume.get("VolumeId"),
            volume.get("Size"),
            volume.get("SnapshotId"),
            volume.get("AvailabilityZone"),
            volume.get("State"),
            volume.get("CreateTime"),
            volume.get("VolumeType") or "standard",
            volume.get("Iops"),
        ]
    ]
    lines += [attachment_row(a) for a in volume.get("Attachments") or []]
    return lines + tag_lines(str(volume.get("VolumeId") or ""), volume.get("Tags"))


def attachment_row(attachment: Obj) -> Row:
    return [
        "ATTACHMENT",
        attachment.get("VolumeId"),
        attachment.get("InstanceId"),
        attachment.get("Device"),
        attachment.get("State"),
        attachment.get("AttachTime"),
    ]


def snapshot_lines(snapshot: Obj) -> list[Row]:
    row: Row = [
        "SNAPSHOT",
        snapshot.get("SnapshotId"),
        snapshot.get("VolumeId"),
        snapshot.get("State"),
        snapshot.get("StartTime"),
        snapshot.get("Progress"),
        snapshot.get("OwnerId"),
        snapshot.get("VolumeSize"),
        snapshot.get("Description"),
    ]
    return [row, *tag_lines(str(snapshot.get("SnapshotId") or ""), snapshot.get("Tags"))]
