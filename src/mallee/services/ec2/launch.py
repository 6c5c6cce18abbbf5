"""RunInstances: validate the request, check capacity, and write the pending instance rows.

Placement on a node is the controller's job; this only promises what the zone can hold now.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.identity.arns import profile_arn
from mallee.ids import new_id
from mallee.placement.macs import mac_for
from mallee.placement.usage import free_slots
from mallee.registry import properties
from mallee.services.ec2 import block_devices, errors, launch_network, security_groups
from mallee.services.ec2.block_devices import Mapping
from mallee.services.ec2.images import aux_image, launchable_image
from mallee.services.ec2.instance_profiles import launch_profile
from mallee.services.ec2.tags import apply_tag_specifications
from mallee.services.ec2.volumes import capacity_gib, check_storage
from mallee.store import Store
from mallee.store.prepared import InsertMany, Prepared
from mallee.store.tables.ec2 import Ec2Instance, Ec2InstanceType, Ec2KeyPair
from mallee.store.tables.iam import IamInstanceProfile
from mallee.store.tables.network import Ec2InstanceGroup, Ec2SecurityGroup

DEFAULT_TYPE = "m1.small"


@dataclass(frozen=True, slots=True)
class Size:
    """The instance type a launch asked for, as read at launch."""

    name: str
    cores: int
    memory_mb: int
    disk_gb: int


@dataclass(slots=True)
class LaunchPlan:
    image: Any
    kernel_id: str | None
    ramdisk_id: str | None
    itype: Size
    key: Any | None
    user_data: str | None
    zone: str
    groups: list[dict[str, str]]
    profile: IamInstanceProfile | None = None
    network: launch_network.LaunchNetwork | None = None
    # The image's block device mappings with the request's on top, resolved: an Ebs mapping is
    # a volume made for each instance, an ephemeral one a local disk its node makes.
    mappings: list[Mapping] = field(default_factory=list)


def _counts(params: dict[str, Any]) -> tuple[int, int]:
    low, high = int(params.get("MinCount", 1)), int(params.get("MaxCount", 1))
    if low < 1 or high < 1:
        raise errors.invalid_value("MinCount and MaxCount must be at least 1")
    if low > high:
        raise errors.invalid_value("MinCount cannot be greater than MaxCount")
    return low, high


def user_data_limit(store: Store) -> int:
    return properties.get_int(store, "cloud.vmstate.user_data_max_size_kb") * 1024


def user_data(raw: Any, limit: int) -> str | None:
    """The base64 text as sent, once it decodes to at most `limit` bytes."""
    if raw is None or raw == "":
        return None
    text = str(raw)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise errors.invalid_value("Invalid BASE64 encoding of user data.") from err
    if len(data) > limit:
        raise errors.invalid_value(f"User data is limited to {limit} bytes")
    return text


# Prepared once and run on the session's connection: a launch makes a handful of reads, and
# SQLAlchemy's statement execution costs more than running them.
_KEY = Prepared(
    select(Ec2KeyPair.name, Ec2KeyPair.public_key).where(
        Ec2KeyPair.account_id == bindparam("account"), Ec2KeyPair.name == bindparam("name")
    )
)
_SIZE = Prepared(
    select(Ec2InstanceType.cores, Ec2InstanceType.memory_mb, Ec2InstanceType.disk_gb).where(
        Ec2InstanceType.name == bindparam("name")
    )
)
_DEFAULT_GROUP = Prepared(
    select(Ec2SecurityGroup.id, Ec2SecurityGroup.name).where(
        Ec2SecurityGroup.account_id == bindparam("account"),
        Ec2SecurityGroup.name == security_groups.DEFAULT,
        Ec2SecurityGroup.vpc_id == "",
    )
)


def _key(s: Session, account: str, name: str | None) -> Any:
    if not name:
        return None
    key = _KEY.first(s.connection(), account=account, name=name)
    if key is None:
        raise errors.not_found("key-pair", name)
    return key


def _size(s: Session, name: str) -> Size:
    found = _SIZE.first(s.connection(), name=name)
    if found is None:
        raise errors.unknown_instance_type(name)
    return Size(name, *found)


def _groups(
    s: Session, account: str, params: dict[str, Any], network: launch_network.LaunchNetwork
) -> list[dict[str, str]]:
    """The caller's groups the request names (NotFound/Malformed as EC2), else `default`."""
    names = params.get("SecurityGroups") or []
    ids = params.get("SecurityGroupIds") or network.group_ids
    if not (names or ids) and network.user_vpc:
        return security_groups.group_refs([security_groups.default_in(s, account, network.vpc_id)])
    if not (names or ids):
        # Most launches name no group: one plain read of the default group, once it exists.
        found = _DEFAULT_GROUP.first(s.connection(), account=account)
        if found is not None:
            return [{"GroupName": found.name, "GroupId": found.id}]
    found = security_groups.launch_groups(s, account, names, ids)
    launch_network.check_groups(network, found)
    return security_groups.group_refs(found)


def plan(
    s: Session, ctx: RequestContext, params: dict[str, Any], zone: str, user_data_limit: int
) -> LaunchPlan:
    account = ctx.principal.account_id
    if not params.get("ImageId"):
        raise errors.missing("ImageId")
    image = launchable_image(s, account, str(params["ImageId"]), "machine")
    placement = params.get("Placement") or {}
    wanted_zone = placement.get("AvailabilityZone")
    if wanted_zone and wanted_zone != zone:
        raise errors.invalid_zone(wanted_zone)
    behavior = params.get("InstanceInitiatedShutdownBehavior", "stop")
    if behavior not in ("stop", "terminate"):
        raise errors.invalid_value(
            f"Invalid value '{behavior}' for InstanceInitiatedShutdownBehavior"
        )
    network = launch_network.resolve(s, account, params, zone)
    requested = block_devices.parse(params.get("BlockDeviceMappings"))
    return LaunchPlan(
        image=image,
        kernel_id=aux_image(s, account, params.get("KernelId") or image.kernel_id, "kernel"),
        ramdisk_id=aux_image(s, account, params.get("RamdiskId") or image.ramdisk_id, "ramdisk"),
        itype=_size(s, str(params.get("InstanceType") or DEFAULT_TYPE)),
        key=_key(s, account, params.get("KeyName")),
        user_data=user_data(params.get("UserData"), user_data_limit),
        zone=zone,
        groups=_groups(s, account, params, network),
        profile=launch_profile(s, account, params.get("IamInstanceProfile")),
        mappings=launch_mappings(s, account, image, requested),
        network=network,
    )


def launch_mappings(
    s: Session, account: str, image: Any, requested: list[Mapping]
) -> list[Mapping]:
    """The mappings an instance of `image` launches with (InvalidBlockDeviceMapping when its
    EBS root is dropped, or an instance-store root is mapped to a volume). The image's own
    snapshots are checked as its owner's (the caller may launch the image: that is enough, as
    AWS), the snapshots the request names as the caller's."""
    own = block_devices.stored(image.block_device_mappings)
    image_snapshots = {m.snapshot_id: image.account_id for m in own if m.snapshot_id}
    merged = block_devices.merge(own, requested)
    merged = [m for m in merged if not m.no_device]
    root = block_devices.root_of(merged, image.root_device_name)
    if image.root_device_type == "ebs" and root is None:
        raise block_devices.invalid_mapping(
            f"The root device {image.root_device_name} of {image.id} cannot be unmapped."
        )
    if image.root_device_type != "ebs" and root is not None:
        raise block_devices.invalid_mapping(
            f"The root device {image.root_device_name} of {image.id} is its instance store."
        )
    return block_devices.resolve(s, account, merged, checked_as=image_snapshots)


def how_many(s: Session, params: dict[str, Any], launch: LaunchPlan, timeout: float) -> int:
    """MaxCount if the zone has room for it, else as many as fit but at least MinCount. The
    volumes of its Ebs mappings too: a storage service of the zone must be alive to make
    them, and together they must fit the zone's storage, as CreateVolume checks one."""
    low, high = _counts(params)
    t = launch.itype
    size = (t.cores, t.memory_mb, t.disk_gb)
    free = free_slots(s, launch.zone, size, now=time.time(), heartbeat_timeout=timeout)
    if free < low:
        raise errors.insufficient_capacity(low, launch.itype.name, launch.zone, free)
    count = min(high, free)
    volume_gib = sum(m.size or 0 for m in launch.mappings if m.ebs)
    if volume_gib:
        check_storage(s, launch.zone, timeout)
        capacity = capacity_gib(s, launch.zone)
        if capacity is not None:
            count = min(count, capacity // volume_gib)
            if count < low:
                raise errors.beyond_capacity(volume_gib * low, launch.zone, capacity)
    return count


def create(
    s: Session, ctx: RequestContext, params: dict[str, Any], launch: LaunchPlan, count: int
) -> list[SimpleNamespace]:
    """Insert the pending instances; returns them as the views read them."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reservation = new_id("r")
    monitoring = bool((params.get("Monitoring") or {}).get("Enabled", False))
    common = {
        "account_id": ctx.principal.account_id,
        "reservation_id": reservation,
        "requester_arn": ctx.principal.arn,
        "client_token": params.get("ClientToken") or None,
        "image_id": launch.image.id,
        "kernel_id": launch.kernel_id,
        "ramdisk_id": launch.ramdisk_id,
        "instance_type": launch.itype.name,
        "cores": launch.itype.cores,
        "memory_mb": launch.itype.memory_mb,
        "disk_gb": launch.itype.disk_gb,
        "key_name": launch.key.name if launch.key else None,
        "public_key": launch.key.public_key if launch.key else None,
        "user_data": launch.user_data,
        "availability_zone": launch.zone,
        "security_groups": json.dumps(launch.groups),
        "monitoring": monitoring,
        "disable_api_termination": bool(params.get("DisableApiTermination", False)),
        "shutdown_behavior": params.get("InstanceInitiatedShutdownBehavior", "stop"),
        "root_device_type": launch.image.root_device_type,
        "root_device_name": launch.image.root_device_name,
        "block_device_mappings": block_devices.to_json([m for m in launch.mappings if not m.ebs]),
        "iam_instance_profile_id": launch.profile.id if launch.profile else None,
        "iam_instance_profile_arn": profile_arn(launch.profile) if launch.profile else None,
        "state": "pending",
        "launch_time": now,
        "state_changed_at": time.time(),
        "vpc_id": launch.network.vpc_id if launch.network else None,
        "subnet_id": launch.network.subnet_id if launch.network else None,
        "public_ip_on_launch": launch.network.public_ip if launch.network else True,
    }
    # A user subnet's addresses are chosen now (EDGE's at placement), and may be fewer.
    network = launch.network
    ips = launch_network.addresses(s, network, _counts(params)[0], count) if network else None
    if ips is not None:
        count = len(ips)
    rows = [{**common, "id": new_id("i"), "launch_index": i} for i in range(count)]
    for row, ip in zip(rows, ips or (), strict=False):
        row.update(private_ip=ip, mac=mac_for(row["id"]))
    # Plain inserts: a launch builds no ORM objects it would only read back.
    _INSERT_INSTANCES.run(s.connection(), rows)
    ids = [r["id"] for r in rows]
    # Membership is what the nodes' firewalls read (the JSON column is the Describe views');
    # the network generation moves at placement, when the instances get addresses.
    group_ids = [g["GroupId"] for g in launch.groups]
    _INSERT_MEMBERS.run(
        s.connection(),
        [
            {"instance_id": iid, "group_id": gid, "position": pos}
            for iid in ids
            for pos, gid in enumerate(group_ids)
        ],
    )
    if launch.network is not None:
        launch_network.INSERT_INTERFACES.run(
            s.connection(),
            launch_network.primary_interfaces(
                ctx.principal.account_id, launch.network, ids, now, ips
            ),
        )
    volumes = block_devices.create_volumes(
        s, ctx.principal.account_id, launch.zone, ids, launch.mappings
    )
    specs = params.get("TagSpecifications")
    apply_tag_specifications(
        s, ctx.principal.account_id, specs, {"instance": ids, "volume": volumes}
    )
    return [SimpleNamespace(**{**_UNPLACED, **row}) for row in rows]


_INSERT_INSTANCES = InsertMany(Ec2Instance.__table__)
_INSERT_MEMBERS = InsertMany(Ec2InstanceGroup.__table__)

# What a new row holds in the columns a launch does not set.
_UNPLACED: dict[str, Any] = {
    "state_reason_code": None,
    "state_reason_message": None,
    "transition_reason": "",
    "private_ip": None,
    "public_ip": None,
}
