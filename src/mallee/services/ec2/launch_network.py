"""Where RunInstances puts an instance's network: its subnet, its primary interface's groups,
whether it gets a public IP, and the primary interfaces it writes with the instance rows.

The default VPC is EDGE: its default subnets are the node subnets, so an instance launched
into one gets its node's address at placement, as before. An instance launched into a user
VPC's subnet gets its address from the subnet here, at launch (the one asked for, or the
first free ones), and its MAC with it: placement then only chooses its node, and the VPC's
data path (node/network/vpc_*) carries it on whichever node that is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.api.errors import ServiceError
from mallee.ids import is_id, new_id
from mallee.placement.macs import mac_for
from mallee.services.ec2 import errors, interface_addresses
from mallee.store.prepared import InsertMany
from mallee.store.tables.interfaces import Ec2NetworkInterface
from mallee.store.tables.network import Ec2SecurityGroup
from mallee.store.tables.vpc import Ec2AccountVpc, Ec2Subnet, Ec2Vpc


@dataclass(slots=True)
class LaunchNetwork:
    """The subnet an instance goes into and what its primary interface says."""

    vpc_id: str
    subnet_id: str
    zone: str
    group_ids: list[str] = field(default_factory=list)
    public_ip: bool = True
    description: str = ""
    delete_on_termination: bool = True
    # A user VPC's subnet (addresses chosen at launch), not one of EDGE's default subnets.
    user_vpc: bool = False
    # The subnet, kept for the addresses `addresses` picks in the launch's transaction.
    subnet: Ec2Subnet | None = None
    # The address asked for (PrivateIpAddress); only in a user VPC's subnet.
    private_ip: str | None = None


def no_default_vpc() -> ServiceError:
    return ServiceError("VPCIdNotSpecified", "No default VPC for this user")


def no_default_subnet(zone: str) -> ServiceError:
    return ServiceError("MissingInput", f"No default subnet for availability zone: '{zone}'.")


def different_networks(group_id: str, subnet_id: str) -> ServiceError:
    return ServiceError(
        "InvalidParameter",
        f"Security group {group_id} and subnet {subnet_id} belong to different networks.",
    )


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def default_subnet(s: Session, account: str, zone: str) -> Ec2Subnet:
    """The account's default subnet of `zone` (VPCIdNotSpecified without a default VPC)."""
    marker = s.get(Ec2AccountVpc, account)
    if marker is None or marker.default_vpc_id is None:
        raise no_default_vpc()
    subnet = s.scalar(
        select(Ec2Subnet).where(
            Ec2Subnet.vpc_id == marker.default_vpc_id,
            Ec2Subnet.zone == zone,
            Ec2Subnet.default_for_az.is_(True),
        )
    )
    if subnet is None:
        raise no_default_subnet(zone)
    return subnet


def named_subnet(s: Session, account: str, subnet_id: str) -> Ec2Subnet:
    if not is_id(subnet_id, "subnet"):
        raise errors.vpc_resource_malformed("subnet", subnet_id)
    subnet = s.get(Ec2Subnet, subnet_id)
    if subnet is None or subnet.account_id != account:
        raise errors.vpc_resource_not_found("subnet", subnet_id)
    return subnet


def is_edge_subnet(s: Session, subnet: Ec2Subnet) -> bool:
    """A default subnet of a default VPC: EDGE's node subnets, the only ones with a data
    path in this step."""
    vpc = s.get(Ec2Vpc, subnet.vpc_id)
    return bool(subnet.default_for_az and vpc is not None and vpc.is_default)


def _one_interface(params: dict[str, Any]) -> dict[str, Any] | None:
    interfaces = params.get("NetworkInterfaces") or []
    if not interfaces:
        return None
    if len(interfaces) > 1 or int(interfaces[0].get("DeviceIndex", 0)) != 0:
        raise errors.invalid_value("Only one network interface, at device index 0, is supported")
    first: dict[str, Any] = interfaces[0]
    return first


def resolve(s: Session, account: str, params: dict[str, Any], zone: str) -> LaunchNetwork:
    """The launch's subnet and interface settings, checked as EC2 checks them; nothing is
    written here."""
    interface = _one_interface(params)
    if interface is not None and params.get("SubnetId"):
        raise errors.invalid_combination(
            "Network interfaces and an instance-level subnet ID may not be specified on the "
            "same request"
        )
    if interface is not None and (params.get("SecurityGroups") or params.get("SecurityGroupIds")):
        raise errors.invalid_combination(
            "Network interfaces and an instance-level security groups may not be specified on "
            "the same request"
        )
    if interface is not None and interface.get("NetworkInterfaceId"):
        eni_id = str(interface["NetworkInterfaceId"])
        if not is_id(eni_id, "eni"):
            raise errors.malformed("network-interface", eni_id, "eni")
        found = s.get(Ec2NetworkInterface, eni_id)
        if found is None or found.account_id != account:
            raise errors.not_found("network-interface", eni_id)
        raise errors.unsupported(
            "Launching with an existing network interface is not supported: an EDGE instance's "
            "primary interface is made with it"
        )
    source = interface if interface is not None else params
    subnet_id = source.get("SubnetId")
    user_vpc = False
    if subnet_id:
        subnet = named_subnet(s, account, str(subnet_id))
        user_vpc = not is_edge_subnet(s, subnet)
        if user_vpc and params.get("SecurityGroups"):
            raise errors.invalid_combination(
                "The parameter groupName cannot be used with the parameter subnet"
            )
        if subnet.zone != zone:
            raise errors.invalid_zone(subnet.zone)
        wanted = (params.get("Placement") or {}).get("AvailabilityZone")
        if wanted and wanted != subnet.zone:
            raise errors.invalid_parameter(
                "availabilityZone",
                wanted,
                f"Subnet '{subnet.id}' is in the availability zone {subnet.zone}",
            )
    else:
        subnet = default_subnet(s, account, zone)
    wanted_ip = (interface or {}).get("PrivateIpAddress") or params.get("PrivateIpAddress")
    if wanted_ip and not user_vpc:
        raise errors.unsupported(
            "PrivateIpAddress cannot be chosen in the default VPC: EDGE gives an instance its "
            "node's next free address when it is placed"
        )
    if wanted_ip:
        _check_wanted(s, subnet, str(wanted_ip), params)
    public = _flag((interface or {}).get("AssociatePublicIpAddress"))
    dot = _flag((interface or {}).get("DeleteOnTermination"))
    group_ids = [str(g) for g in (interface or {}).get("Groups") or []]
    return LaunchNetwork(
        vpc_id=subnet.vpc_id,
        subnet_id=subnet.id,
        zone=subnet.zone,
        group_ids=group_ids,
        public_ip=subnet.map_public_ip_on_launch if public is None else public,
        description=str((interface or {}).get("Description") or ""),
        delete_on_termination=True if dot is None else dot,
        user_vpc=user_vpc,
        subnet=subnet if user_vpc else None,
        private_ip=str(wanted_ip) if wanted_ip else None,
    )


def _check_wanted(s: Session, subnet: Ec2Subnet, address: str, params: dict[str, Any]) -> None:
    """PrivateIpAddress: one instance only, in the subnet's usable range, free."""
    if int(params.get("MaxCount", 1) or 1) > 1:
        raise errors.invalid_combination(
            "Network interfaces with a specified private IP address cannot be launched on "
            "more than one instance"
        )
    if not interface_addresses.in_user_subnet(subnet, address):
        raise errors.invalid_parameter(
            "PrivateIpAddress", address, "Address does not fall within the subnet's address range"
        )
    if address in interface_addresses.taken(s, subnet):
        raise errors.address_in_use(address)


def addresses(s: Session, network: LaunchNetwork, low: int, high: int) -> list[str] | None:
    """The private addresses of a launch into a user subnet (None for EDGE's, whose instances
    get theirs at placement): the one asked for, or the subnet's first free ones, `high` if it
    has them and at least `low` (InsufficientFreeAddressesInSubnet)."""
    if not network.user_vpc or network.subnet is None:
        return None
    if network.private_ip:
        return [network.private_ip]
    return interface_addresses.pick_for_launch(s, network.subnet, low, high)


def group_vpc(network: LaunchNetwork) -> str:
    """The `vpc_id` of the groups an instance of `network` may be in ("" is EDGE's)."""
    return network.vpc_id if network.user_vpc else ""


def check_groups(network: LaunchNetwork, groups: Sequence[Ec2SecurityGroup]) -> None:
    """Every group of an instance is of its VPC (EDGE's, vpc_id "", in the default VPC)."""
    for group in groups:
        if group.vpc_id != group_vpc(network):
            raise different_networks(group.id, network.subnet_id)


def primary_interfaces(
    account: str,
    network: LaunchNetwork,
    instance_ids: Sequence[str],
    now: dt.datetime,
    private_ips: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id("eni"),
            "private_ip": private_ips[n] if private_ips else None,
            "mac": mac_for(iid) if private_ips else None,
            "account_id": account,
            "vpc_id": network.vpc_id,
            "subnet_id": network.subnet_id,
            "zone": network.zone,
            "description": network.description,
            "status": "in-use",
            "source_dest_check": True,
            "interface_type": "interface",
            "requester_managed": False,
            "attachment_id": new_id("eni-attach"),
            "instance_id": iid,
            "device_index": 0,
            "delete_on_termination": network.delete_on_termination,
            "attach_time": now,
            "attachment_status": "attached",
            "created_at": now,
        }
        for n, iid in enumerate(instance_ids)
    ]


INSERT_INTERFACES = InsertMany(Ec2NetworkInterface.__table__)
