"""Network interfaces as EC2 shows them: DescribeNetworkInterfaces' NetworkInterface, the
InstanceNetworkInterface of DescribeInstances, and the filters of both."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mallee.dns_names import DnsDomains
from mallee.services.ec2.tags import tag_list
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.interfaces import (
    Ec2NetworkInterface,
    Ec2NetworkInterfaceAddress,
    Ec2NetworkInterfaceGroup,
    live_interfaces,
)
from mallee.store.tables.network import Ec2Address, Ec2InstanceGroup, Ec2SecurityGroup


@dataclass(frozen=True, slots=True)
class Interface:
    """One interface with what its views add: its groups (its instance's for a primary
    interface), secondary addresses and public IP. Hashable: instance views are cached."""

    id: str
    account_id: str
    vpc_id: str
    subnet_id: str
    zone: str
    private_ip: str | None
    mac: str | None
    description: str
    status: str
    source_dest_check: bool
    interface_type: str
    requester_managed: bool
    attachment_id: str | None
    instance_id: str | None
    device_index: int | None
    delete_on_termination: bool
    attach_time: datetime | None
    attachment_status: str | None
    groups: tuple[tuple[str, str], ...] = ()
    secondary_ips: tuple[str, ...] = ()
    public_ip: str | None = None
    # Who owns the public IP: "amazon" for an auto-assigned one, else the account.
    ip_owner: str = "amazon"


_FIELDS = [
    "id",
    "account_id",
    "vpc_id",
    "subnet_id",
    "zone",
    "private_ip",
    "mac",
    "description",
    "status",
    "source_dest_check",
    "interface_type",
    "requester_managed",
    "attachment_id",
    "instance_id",
    "device_index",
    "delete_on_termination",
    "attach_time",
    "attachment_status",
]


def _columns() -> list[Any]:
    t = Ec2NetworkInterface.__table__.c
    return [t[f] for f in _FIELDS]


def live_query(account: str | None = None) -> Any:
    """The interfaces that exist: one whose instance was terminated went with it (its row
    stays until the instance's is purged)."""
    i = Ec2NetworkInterface
    query = live_interfaces(select(*_columns())).order_by(i.id)
    if account is not None:
        query = query.where(i.account_id == account)
    return query


def load(s: Session, query: Any) -> list[Interface]:
    """The interfaces `query` (a live_query) selects, with their groups, secondary IPs and
    public IPs: four reads whatever their number."""
    rows = s.execute(query).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    instance_ids = [r.instance_id for r in rows if r.instance_id]
    by_instance = _instance_groups(s, instance_ids)
    own = _own_groups(s, ids)
    secondary: dict[str, list[str]] = {}
    for eni, address in s.execute(
        select(Ec2NetworkInterfaceAddress.interface_id, Ec2NetworkInterfaceAddress.private_ip)
        .where(Ec2NetworkInterfaceAddress.interface_id.in_(ids))
        .order_by(Ec2NetworkInterfaceAddress.private_ip)
    ):
        secondary.setdefault(eni, []).append(address)
    public = _public_ips(s, ids, instance_ids)
    out = []
    for r in rows:
        primary = r.instance_id is not None and r.device_index == 0
        groups = by_instance.get(r.instance_id, ()) if primary else own.get(r.id, ())
        found = public.get(r.id)
        ip: str | None = found[0] if found else None
        owner = found[1] if found else "amazon"
        out.append(
            Interface(
                **dict(zip(_FIELDS, r, strict=True)),
                groups=tuple(groups),
                secondary_ips=tuple(secondary.get(r.id, ())),
                public_ip=ip,
                ip_owner=owner,
            )
        )
    return out


def _instance_groups(s: Session, instance_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    if not instance_ids:
        return out
    found = s.execute(
        select(Ec2InstanceGroup.instance_id, Ec2SecurityGroup.id, Ec2SecurityGroup.name)
        .join(Ec2SecurityGroup, Ec2SecurityGroup.id == Ec2InstanceGroup.group_id)
        .where(Ec2InstanceGroup.instance_id.in_(instance_ids))
        .order_by(Ec2InstanceGroup.instance_id, Ec2InstanceGroup.position)
    )
    for iid, gid, name in found:
        out.setdefault(iid, []).append((gid, name))
    return out


def _own_groups(s: Session, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    found = s.execute(
        select(Ec2NetworkInterfaceGroup.interface_id, Ec2SecurityGroup.id, Ec2SecurityGroup.name)
        .join(Ec2SecurityGroup, Ec2SecurityGroup.id == Ec2NetworkInterfaceGroup.group_id)
        .where(Ec2NetworkInterfaceGroup.interface_id.in_(ids))
        .order_by(Ec2NetworkInterfaceGroup.interface_id, Ec2NetworkInterfaceGroup.position)
    )
    for eni, gid, name in found:
        out.setdefault(eni, []).append((gid, name))
    return out


def _public_ips(s: Session, ids: list[str], instance_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Interface id -> (public IP, its owner): an elastic IP associated with the interface,
    else the auto-assigned address of its instance (primary interfaces)."""
    out: dict[str, tuple[str, str]] = {}
    if instance_ids:
        rows = s.execute(
            select(
                Ec2NetworkInterface.id,
                Ec2Instance.public_ip,
                Ec2Address.elastic,
                Ec2Address.account_id,
            )
            .join(Ec2Instance, Ec2Instance.id == Ec2NetworkInterface.instance_id)
            .outerjoin(Ec2Address, Ec2Address.public_ip == Ec2Instance.public_ip)
            .where(
                Ec2NetworkInterface.instance_id.in_(instance_ids),
                Ec2NetworkInterface.device_index == 0,
                Ec2Instance.public_ip.is_not(None),
            )
        )
        for eni, ip, elastic, owner in rows:
            out[eni] = (str(ip), str(owner) if elastic else "amazon")
    for eni_id, elastic_ip, holder in s.execute(
        select(Ec2Address.network_interface_id, Ec2Address.public_ip, Ec2Address.account_id).where(
            Ec2Address.network_interface_id.in_(ids)
        )
    ):
        if eni_id:
            out[eni_id] = (elastic_ip, holder)
    return out


def _association(eni: Interface, names: DnsDomains) -> dict[str, Any]:
    ip = eni.public_ip or ""
    return {"IpOwnerId": eni.ip_owner, "PublicDnsName": names.public_name(ip), "PublicIp": ip}


def _addresses(eni: Interface, names: DnsDomains) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if eni.private_ip:
        first: dict[str, Any] = {
            "Primary": True,
            "PrivateIpAddress": eni.private_ip,
            "PrivateDnsName": names.private_name(eni.private_ip),
        }
        if eni.public_ip:
            first["Association"] = _association(eni, names)
        out.append(first)
    out += [
        {"Primary": False, "PrivateIpAddress": ip, "PrivateDnsName": names.private_name(ip)}
        for ip in eni.secondary_ips
    ]
    return out


def _common(eni: Interface, names: DnsDomains) -> dict[str, Any]:
    out: dict[str, Any] = {
        "NetworkInterfaceId": eni.id,
        "SubnetId": eni.subnet_id,
        "VpcId": eni.vpc_id,
        "Description": eni.description,
        "OwnerId": eni.account_id,
        "Status": eni.status,
        "SourceDestCheck": eni.source_dest_check,
        "Groups": [{"GroupId": g, "GroupName": n} for g, n in eni.groups],
        "InterfaceType": eni.interface_type,
        "PrivateIpAddresses": _addresses(eni, names),
        "Ipv6Addresses": [],
    }
    if eni.mac:
        out["MacAddress"] = eni.mac
    if eni.private_ip:
        out["PrivateIpAddress"] = eni.private_ip
        out["PrivateDnsName"] = names.private_name(eni.private_ip)
    if eni.public_ip:
        out["Association"] = _association(eni, names)
    return out


def _attachment(eni: Interface) -> dict[str, Any]:
    return {
        "AttachmentId": eni.attachment_id,
        "DeviceIndex": eni.device_index,
        "NetworkCardIndex": 0,
        "Status": eni.attachment_status,
        "AttachTime": eni.attach_time,
        "DeleteOnTermination": eni.delete_on_termination,
    }


def interface_out(eni: Interface, tags: Mapping[str, str], names: DnsDomains) -> dict[str, Any]:
    """DescribeNetworkInterfaces' NetworkInterface."""
    out = _common(eni, names)
    out["AvailabilityZone"] = eni.zone
    out["RequesterManaged"] = eni.requester_managed
    out["TagSet"] = tag_list(dict(tags))
    if eni.attachment_id:
        attachment = _attachment(eni)
        attachment["InstanceId"] = eni.instance_id
        attachment["InstanceOwnerId"] = eni.account_id
        out["Attachment"] = attachment
    return out


def instance_interface_out(eni: Interface, names: DnsDomains) -> dict[str, Any]:
    """DescribeInstances' InstanceNetworkInterface."""
    out = _common(eni, names)
    out["Attachment"] = _attachment(eni)
    return out


def of_instances(
    s: Session, account: str, ids: Collection[str] | None
) -> dict[str, tuple[Interface, ...]]:
    """Instance id -> its live interfaces by device index."""
    query = live_query(account).where(Ec2NetworkInterface.instance_id.is_not(None))
    if ids is not None:
        query = query.where(Ec2NetworkInterface.instance_id.in_(list(ids)))
    out: dict[str, list[Interface]] = {}
    for eni in load(s, query):
        out.setdefault(eni.instance_id or "", []).append(eni)
    return {k: tuple(sorted(v, key=lambda e: e.device_index or 0)) for k, v in out.items()}


def _group_ids(e: Interface) -> list[str]:
    return [g for g, _ in e.groups]


def _group_names(e: Interface) -> list[str]:
    return [n for _, n in e.groups]


def _all_private(e: Interface) -> list[str]:
    return [ip for ip in (e.private_ip, *e.secondary_ips) if ip]


def _attached(e: Interface, value: Any) -> Any:
    return value if e.attachment_id else None


FILTERS: dict[str, Callable[[Interface], Any]] = {
    "network-interface-id": lambda e: e.id,
    "subnet-id": lambda e: e.subnet_id,
    "vpc-id": lambda e: e.vpc_id,
    "availability-zone": lambda e: e.zone,
    "description": lambda e: e.description,
    "status": lambda e: e.status,
    "owner-id": lambda e: e.account_id,
    "mac-address": lambda e: e.mac,
    "private-ip-address": _all_private,
    "addresses.private-ip-address": _all_private,
    "source-dest-check": lambda e: e.source_dest_check,
    "requester-managed": lambda e: e.requester_managed,
    "interface-type": lambda e: e.interface_type,
    "group-id": _group_ids,
    "group-name": _group_names,
    "association.public-ip": lambda e: e.public_ip,
    "association.ip-owner-id": lambda e: e.ip_owner if e.public_ip else None,
    "attachment.attachment-id": lambda e: e.attachment_id,
    "attachment.instance-id": lambda e: e.instance_id,
    "attachment.instance-owner-id": lambda e: _attached(e, e.account_id),
    "attachment.device-index": lambda e: _attached(e, str(e.device_index)),
    "attachment.status": lambda e: e.attachment_status,
    "attachment.attach-time": lambda e: (
        e.attach_time.strftime("%Y-%m-%dT%H:%M:%S.000Z") if e.attach_time else None
    ),
    "attachment.delete-on-termination": lambda e: _attached(e, e.delete_on_termination),
}


def dns_filter(names: DnsDomains) -> Callable[[Interface], Any]:
    return lambda e: names.private_name(e.private_ip)


# DescribeInstances' network-interface.* filters, on the instance's interfaces.
INSTANCE_FILTERS: dict[str, str] = {
    "network-interface.network-interface-id": "network-interface-id",
    "network-interface.subnet-id": "subnet-id",
    "network-interface.vpc-id": "vpc-id",
    "network-interface.availability-zone": "availability-zone",
    "network-interface.description": "description",
    "network-interface.status": "status",
    "network-interface.owner-id": "owner-id",
    "network-interface.mac-address": "mac-address",
    "network-interface.private-dns-name": "private-dns-name",
    "network-interface.source-dest-check": "source-dest-check",
    "network-interface.requester-managed": "requester-managed",
    "network-interface.group-id": "group-id",
    "network-interface.group-name": "group-name",
    "network-interface.attachment.attachment-id": "attachment.attachment-id",
    "network-interface.attachment.instance-id": "attachment.instance-id",
    "network-interface.attachment.instance-owner-id": "attachment.instance-owner-id",
    "network-interface.attachment.device-index": "attachment.device-index",
    "network-interface.attachment.status": "attachment.status",
    "network-interface.attachment.attach-time": "attachment.attach-time",
    "network-interface.attachment.delete-on-termination": "attachment.delete-on-termination",
    "network-interface.addresses.private-ip-address": "private-ip-address",
    "network-interface.addresses.primary": "",
    "network-interface.addresses.association.public-ip": "association.public-ip",
    "network-interface.addresses.association.ip-owner-id": "association.ip-owner-id",
    "network-interface.association.public-ip": "association.public-ip",
    "network-interface.association.ip-owner-id": "association.ip-owner-id",
    "network-interface.private-ip-address": "private-ip-address",
}
