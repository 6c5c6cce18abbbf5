"""EC2 elastic IPs: AllocateAddress, AssociateAddress, DisassociateAddress, ReleaseAddress,
DescribeAddresses, over the EDGE public address pool.

Each address has its Domain (AllocateAddress's, `standard` by default as Eucalyptus' EDGE
addresses are); both kinds have an AllocationId and AssociationId. The way a call names the
address chooses the rules it follows: by PublicIp, EC2-Classic's (an associated address moves
on AssociateAddress, and is disassociated first on ReleaseAddress); by AllocationId, VPC's
(moving needs AllowReassociation, releasing an associated address is InvalidIPAddress.InUse).
An address is associated with an instance (its primary interface) or with a network interface
and one of its private IPs; one a live NAT gateway holds cannot be associated.

An instance has at most one public address. Associating an elastic IP returns the instance's
auto-assigned one to the pool; disassociating gives it a new auto-assigned one when
`cloud.addresses.dodynamicpublicaddresses` is on, as Eucalyptus does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id, new_id
from mallee.placement import address_pool
from mallee.registry import properties
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import errors
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.instances import owned
from mallee.services.ec2.nat_gateways import LIVE as NAT_LIVE
from mallee.services.ec2.network_interfaces import checked_eni_id
from mallee.services.ec2.network_interfaces import owned as owned_interface
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tag_list,
    tags_for,
)
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.iam import IamAccount
from mallee.store.tables.interfaces import Ec2NetworkInterface, Ec2NetworkInterfaceAddress
from mallee.store.tables.network import Ec2Address, bump_network
from mallee.store.tables.vpc import Ec2NatGateway

T = TypeVar("T")
DOMAIN = "standard"
_DOMAINS = ("standard", "vpc")
# States an instance can take an address in (EC2-Classic: it needs its private IP).
_ATTACHABLE = ("pending", "running")
# PostgreSQL deadlock and serialization failures: the transaction is safe to run again.
_RETRY_SQLSTATES = ("40P01", "40001")
_ATTEMPTS = 3


def _retrying(work: Callable[[], T]) -> T:
    """Run a transaction again when PostgreSQL picked it as a deadlock victim."""
    for attempt in range(_ATTEMPTS):
        try:
            return work()
        except OperationalError as err:
            code = getattr(err.orig, "sqlstate", None)
            if code not in _RETRY_SQLSTATES or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _by_ip(s: Session, account: str, ip: str) -> Ec2Address:
    row = s.get(Ec2Address, ip, with_for_update=True)
    if row is None:
        raise errors.address_not_found(ip)
    if row.account_id != account:
        raise errors.address_not_yours(ip)
    if not row.elastic:
        # The instance's auto-assigned address: not an elastic IP the caller can manage.
        raise errors.address_not_found(ip)
    return row


def _check_allocation_id(allocation_id: str) -> None:
    if not is_id(allocation_id, "eipalloc"):
        raise errors.malformed("elastic-ip", allocation_id, "eipalloc")


def _by_allocation(s: Session, account: str, allocation_id: str) -> Ec2Address:
    _check_allocation_id(allocation_id)
    row = s.scalar(
        select(Ec2Address)
        .where(
            Ec2Address.allocation_id == allocation_id,
            Ec2Address.account_id == account,
            Ec2Address.elastic.is_(True),
        )
        .with_for_update()
    )
    if row is None:
        raise errors.not_found("elastic-ip", allocation_id)
    return row


def _named(s: Session, account: str, params: Params) -> tuple[Ec2Address, bool]:
    """The address a call names, and whether it was named VPC-style (by AllocationId)."""
    allocation_id, ip = params.get("AllocationId"), params.get("PublicIp")
    if allocation_id:
        return _by_allocation(s, account, str(allocation_id)), True
    if ip:
        return _by_ip(s, account, str(ip)), False
    raise errors.missing("PublicIp")


def _target(s: Session, account: str, instance_id: str) -> Ec2Instance:
    (row,) = owned(s, account, [instance_id])
    if row.state not in _ATTACHABLE or not row.private_ip:
        raise errors.not_attachable(row.id)
    return row


def _check_domain(params: Params) -> str:
    domain = params.get("Domain")
    if domain is not None and domain not in _DOMAINS:
        raise errors.invalid_parameter("Domain", domain)
    return str(domain or DOMAIN)


def _allocate(
    s: Session, account: str, candidates: Sequence[str], *, limit: int, wanted: object
) -> Ec2Address:
    # Serializes one account's allocations (PostgreSQL), so the limit holds; NO KEY UPDATE
    # leaves the account's other inserts (their foreign keys) unblocked.
    s.execute(select(IamAccount.id).where(IamAccount.id == account).with_for_update(key_share=True))
    held = s.scalar(
        select(func.count())
        .select_from(Ec2Address)
        .where(Ec2Address.account_id == account, Ec2Address.elastic.is_(True))
    )
    if (held or 0) >= limit:
        raise errors.address_limit_exceeded()
    # A live NAT gateway's public IP stays its own even if its row left the pool (released
    # before ReleaseAddress checked NAT gateways): handing it out would route two tenants' NAT.
    nat_ips = set(
        s.scalars(select(Ec2NatGateway.public_ip).where(Ec2NatGateway.state.in_(NAT_LIVE)))
    )
    if nat_ips:
        candidates = [ip for ip in candidates if ip not in nat_ips]
    row = address_pool.take(s, candidates, account_id=account, elastic=True)
    if row is None:
        if wanted is not None:
            raise errors.address_in_use(wanted)
        raise errors.address_limit_exceeded()
    return row


def _pool_and_dynamic(rt: Runtime) -> tuple[Sequence[str], bool]:
    return address_pool.pool(rt.store), address_pool.dynamic_enabled(rt.store)


def _detach(rt: Runtime, s: Session, address: Ec2Address, redynamic: bool) -> None:
    """Unmap an address from its instance; the instance may get an auto-assigned one."""
    instance = (
        s.get(Ec2Instance, address.instance_id, with_for_update=True)
        if address.instance_id
        else None
    )
    address.instance_id = address.association_id = None
    address.network_interface_id = address.private_ip = None
    bump_network(s)
    if instance is None:
        return
    instance.public_ip = None
    s.flush()
    pool, dynamic = _pool_and_dynamic(rt)
    if redynamic and dynamic and instance.state in _ATTACHABLE:
        address_pool.give_dynamic(s, instance, pool)


def _attach(rt: Runtime, s: Session, address: Ec2Address, instance: Ec2Instance) -> None:
    held = s.scalars(
        select(Ec2Address)
        .where(Ec2Address.instance_id == instance.id, Ec2Address.public_ip != address.public_ip)
        .with_for_update()
    ).all()
    for other in held:
        if other.elastic:
            _detach(rt, s, other, redynamic=False)
        else:
            s.delete(other)
    if address.instance_id and address.instance_id != instance.id:
        _detach(rt, s, address, redynamic=True)
    address.instance_id = instance.id
    address.association_id = new_id("eipassoc")
    # An instance's association is its primary interface's, read from it on Describe.
    address.network_interface_id = address.private_ip = None
    instance.public_ip = address.public_ip
    bump_network(s)


def _primary_interfaces(s: Session, instance_ids: list[str]) -> dict[str, str]:
    if not instance_ids:
        return {}
    found = s.execute(
        select(Ec2NetworkInterface.instance_id, Ec2NetworkInterface.id).where(
            Ec2NetworkInterface.instance_id.in_(instance_ids),
            Ec2NetworkInterface.device_index == 0,
        )
    ).all()
    return {iid: eni for iid, eni in found if iid}


def _attach_interface(
    s: Session, address: Ec2Address, eni: Ec2NetworkInterface, private_ip: str
) -> None:
    """Map an address to an interface that no instance has (it holds its own addresses)."""
    held = s.scalars(
        select(Ec2Address)
        .where(
            Ec2Address.network_interface_id == eni.id,
            Ec2Address.private_ip == private_ip,
            Ec2Address.public_ip != address.public_ip,
        )
        .with_for_update()
    ).all()
    for other in held:
        other.network_interface_id = other.private_ip = other.association_id = None
    address.instance_id = None
    address.network_interface_id = eni.id
    address.private_ip = private_ip
    address.association_id = new_id("eipassoc")
    bump_network(s)


def _held_by_nat(s: Session, address: Ec2Address, *, releasing: bool = False) -> None:
    """An elastic IP a live NAT gateway holds is that gateway's (step 1's CreateNatGateway
    refuses an associated one, this the other way round); releasing it is AWS's
    InvalidIPAddress.InUse."""
    nat = s.scalar(
        select(Ec2NatGateway.id)
        .where(
            Ec2NatGateway.allocation_id == address.allocation_id,
            Ec2NatGateway.state.in_(NAT_LIVE),
        )
        .limit(1)
    )
    if nat is not None and releasing:
        raise errors.address_in_use(address.public_ip)
    if nat is not None:
        raise errors.address_taken(address.allocation_id)


def allocate_address(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    domain = _check_domain(params)
    account = ctx.principal.account_id
    limit = properties.get_int(rt.store, "cloud.addresses.maxpublicaddresses")
    wanted = params.get("Address")
    pool = address_pool.pool(rt.store)
    if wanted is not None and str(wanted) not in pool:
        raise errors.invalid_parameter("Address", wanted, "It is not in the address pool.")
    candidates = [str(wanted)] if wanted is not None else pool

    def work() -> Result:
        with rt.store.session() as s:
            row = _allocate(s, account, candidates, limit=limit, wanted=wanted)
            row.domain = domain
            specs = params.get("TagSpecifications")
            apply_tag_specifications(s, account, specs, {"elastic-ip": [row.allocation_id]})
            return {
                "PublicIp": row.public_ip,
                "AllocationId": row.allocation_id,
                "Domain": row.domain,
            }

    return _retrying(work)


def associate_address(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    instance_id, eni_id = params.get("InstanceId"), params.get("NetworkInterfaceId")
    if instance_id and eni_id:
        raise errors.invalid_combination(
            "The parameter instanceId cannot be used with the parameter networkInterfaceId"
        )
    if not instance_id and not eni_id:
        raise errors.missing("InstanceId")
    account = ctx.principal.account_id

    def work() -> Result:
        with rt.store.session() as s:
            instance, eni, private_ip = _association_target(s, account, params)
            address, vpc_style = _named(s, account, params)
            _held_by_nat(s, address)
            same = (
                address.instance_id == instance.id
                if instance is not None
                else address.network_interface_id == (eni.id if eni else None)
                and address.private_ip == private_ip
            )
            if same and address.association_id:
                return {"AssociationId": address.association_id}
            associated = address.instance_id or address.network_interface_id
            if vpc_style and associated and not params.get("AllowReassociation"):
                raise errors.already_associated(address.allocation_id, address.association_id)
            if instance is not None:
                _attach(rt, s, address, instance)
            elif eni is not None:
                if address.instance_id:
                    _detach(rt, s, address, redynamic=True)
                _attach_interface(s, address, eni, private_ip or "")
            return {"AssociationId": address.association_id}

    return _retrying(work)


def _association_target(
    s: Session, account: str, params: Params
) -> tuple[Ec2Instance | None, Ec2NetworkInterface | None, str | None]:
    """The instance (named, or the one the named interface is the primary of), or the
    interface no instance has, and the private IP the address maps to."""
    wanted = params.get("PrivateIpAddress")
    if params.get("InstanceId"):
        instance = _target(s, account, str(params["InstanceId"]))
        if wanted and str(wanted) != instance.private_ip:
            raise errors.invalid_parameter(
                "PrivateIpAddress", wanted, f"It is not an address of {instance.id}."
            )
        return instance, None, instance.private_ip
    eni = owned_interface(s, account, checked_eni_id(params["NetworkInterfaceId"]))
    if eni.instance_id is not None:
        instance = _target(s, account, eni.instance_id)
        if wanted and str(wanted) != instance.private_ip:
            raise errors.invalid_parameter(
                "PrivateIpAddress", wanted, f"It is not an address of {eni.id}."
            )
        return instance, eni, instance.private_ip
    mine = {
        eni.private_ip,
        *s.scalars(
            select(Ec2NetworkInterfaceAddress.private_ip).where(
                Ec2NetworkInterfaceAddress.interface_id == eni.id
            )
        ),
    }
    private_ip = str(wanted) if wanted else eni.private_ip
    if private_ip not in mine or private_ip is None:
        raise errors.invalid_parameter(
            "PrivateIpAddress", wanted, f"It is not an address of {eni.id}."
        )
    return None, eni, private_ip


def disassociate_address(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    association_id, ip = params.get("AssociationId"), params.get("PublicIp")
    if not association_id and not ip:
        raise errors.missing("AssociationId")

    def work() -> Result:
        with rt.store.session() as s:
            if association_id:
                address = s.scalar(
                    select(Ec2Address)
                    .where(
                        Ec2Address.association_id == str(association_id),
                        Ec2Address.account_id == account,
                        Ec2Address.elastic.is_(True),
                    )
                    .with_for_update()
                )
                if address is None:
                    raise errors.association_not_found(str(association_id))
            else:
                address = _by_ip(s, account, str(ip))
            # EC2-Classic: disassociating an unassociated address is a no-op.
            if address.instance_id or address.network_interface_id:
                _detach(rt, s, address, redynamic=True)
            return {}

    return _retrying(work)


def release_address(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id

    def work() -> Result:
        with rt.store.session() as s:
            address, vpc_style = _named(s, account, params)
            _held_by_nat(s, address, releasing=True)
            if address.instance_id or address.network_interface_id:
                if vpc_style:
                    raise errors.address_in_use(address.public_ip)
                _detach(rt, s, address, redynamic=True)
            delete_all_tags(s, [address.allocation_id])
            s.delete(address)
            return {}

    return _retrying(work)


def describe_addresses(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    filters = parse_filters(params.get("Filters"), _FILTERS)
    ips = [str(i) for i in params.get("PublicIps") or []]
    allocation_ids = [str(i) for i in params.get("AllocationIds") or []]
    for allocation_id in allocation_ids:
        _check_allocation_id(allocation_id)
    account = ctx.principal.account_id
    with rt.store.read() as s:
        rows = s.scalars(
            select(Ec2Address)
            .where(Ec2Address.account_id == account, Ec2Address.elastic.is_(True))
            .order_by(Ec2Address.allocated_at, Ec2Address.public_ip)
        ).all()
        private = _private_ips(s, [r.instance_id for r in rows if r.instance_id])
        primary = _primary_interfaces(
            s, [r.instance_id for r in rows if r.instance_id and r.domain == "vpc"]
        )
        tags = tags_for(s, account, [r.allocation_id for r in rows])
    views = [
        _AddressView(
            r,
            r.private_ip or private.get(r.instance_id or ""),
            r.network_interface_id or primary.get(r.instance_id or ""),
        )
        for r in rows
    ]
    _check_named(views, ips, allocation_ids)
    chosen = [
        v
        for v in views
        if (not ips or v.row.public_ip in ips)
        and (not allocation_ids or v.row.allocation_id in allocation_ids)
        and matches(filters, lookup(_FILTERS, v), tags.get(v.row.allocation_id, {}))
    ]
    return {"Addresses": [v.out(tags.get(v.row.allocation_id, {})) for v in chosen]}


class _AddressView:
    """An address as Describe shows it: a `vpc` one associated with an instance names the
    instance's primary interface, as AWS; a `standard` one (EC2-Classic) none."""

    __slots__ = ("interface_id", "private_ip", "row")

    def __init__(self, row: Ec2Address, private_ip: str | None, interface_id: str | None) -> None:
        self.row = row
        self.interface_id = interface_id
        associated = row.instance_id or row.network_interface_id
        self.private_ip = private_ip if associated else None

    def out(self, tags: dict[str, str]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "PublicIp": self.row.public_ip,
            "AllocationId": self.row.allocation_id,
            "Domain": self.row.domain,
            "Tags": tag_list(tags),
        }
        if self.row.instance_id:
            item["InstanceId"] = self.row.instance_id
        if self.row.instance_id or self.row.network_interface_id:
            item["AssociationId"] = self.row.association_id
            if self.private_ip:
                item["PrivateIpAddress"] = self.private_ip
        if self.interface_id:
            item["NetworkInterfaceId"] = self.interface_id
            item["NetworkInterfaceOwnerId"] = self.row.account_id
        return item


_FILTERS: dict[str, Callable[[_AddressView], Any]] = {
    "public-ip": lambda v: v.row.public_ip,
    "allocation-id": lambda v: v.row.allocation_id,
    "association-id": lambda v: v.row.association_id,
    "instance-id": lambda v: v.row.instance_id,
    "domain": lambda v: v.row.domain,
    "network-interface-id": lambda v: v.interface_id,
    "network-interface-owner-id": lambda v: v.row.account_id if v.interface_id else None,
    "private-ip-address": lambda v: v.private_ip,
}


def _private_ips(s: Session, instance_ids: list[str]) -> dict[str, str]:
    if not instance_ids:
        return {}
    found = s.execute(
        select(Ec2Instance.id, Ec2Instance.private_ip).where(Ec2Instance.id.in_(instance_ids))
    ).all()
    return {iid: ip for iid, ip in found if ip}


def _check_named(views: list[_AddressView], ips: list[str], allocation_ids: list[str]) -> None:
    have_ips = {v.row.public_ip for v in views}
    have_ids = {v.row.allocation_id for v in views}
    for ip in ips:
        if ip not in have_ips:
            raise errors.address_not_found(ip)
    for allocation_id in allocation_ids:
        if allocation_id not in have_ids:
            raise errors.not_found("elastic-ip", allocation_id)


def _check_elastic_ip(s: Session, account_id: str, resource_id: str) -> None:
    row = s.scalar(select(Ec2Address).where(Ec2Address.allocation_id == resource_id))
    if row is None or row.account_id != account_id or not row.elastic:
        raise errors.not_found("elastic-ip", resource_id)


register_resource_check("elastic-ip", _check_elastic_ip)


OPERATIONS: Operations = {
    "AllocateAddress": allocate_address,
    "AssociateAddress": associate_address,
    "DescribeAddresses": describe_addresses,
    "DisassociateAddress": disassociate_address,
    "ReleaseAddress": release_address,
}
