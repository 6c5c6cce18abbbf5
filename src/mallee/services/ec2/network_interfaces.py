"""Network interfaces: Create/Delete/Describe, their attributes, attachments and secondary
private IPs (see docs/architecture.md, "VPC").

On EDGE an instance has exactly one NIC, its primary interface, made and deleted with it.
An interface made by CreateNetworkInterface holds its addresses (placement gives them to no
instance) and may carry routes (step 3), but no VM gets a second NIC in this step: the
instance types say MaximumNetworkInterfaces 1 and Ipv4AddressesPerInterface 1, so
AttachNetworkInterface and assigning a secondary IP to an attached interface answer AWS's
limit errors, as AWS does beyond a type's limits.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.ids import is_id, new_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import dns, errors, interface_addresses, security_groups
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.instances import owned as owned_instances
from mallee.services.ec2.interface_views import (
    FILTERS,
    Interface,
    dns_filter,
    interface_out,
    live_query,
    load,
)
from mallee.services.ec2.launch_network import different_networks, is_edge_subnet, named_subnet
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import (
    apply_tag_specifications,
    delete_all_tags,
    register_resource_check,
    tags_for,
)
from mallee.services.ec2.vpc_rows import now
from mallee.store.tables.ec2 import Ec2Instance
from mallee.store.tables.interfaces import (
    Ec2NetworkInterface,
    Ec2NetworkInterfaceAddress,
    Ec2NetworkInterfaceGroup,
)
from mallee.store.tables.network import Ec2Address, Ec2SecurityGroup, bump_network
from mallee.store.tables.vpc import Ec2Route, Ec2Subnet

_ATTRIBUTES = ("description", "groupSet", "sourceDestCheck", "attachment")


def in_use(eni_id: str) -> ServiceError:
    return ServiceError("InvalidNetworkInterface.InUse", f"Interface: [{eni_id}] in use.")


def attachment_limit(instance_type: str) -> ServiceError:
    return ServiceError(
        "AttachmentLimitExceeded", f"Interface count 2 exceeds the limit for {instance_type}"
    )


def address_limit() -> ServiceError:
    return ServiceError(
        "PrivateIpAddressLimitExceeded", "Number of private addresses will exceed limit."
    )


def attachment_not_found(attachment_id: str) -> ServiceError:
    return ServiceError(
        "InvalidAttachmentID.NotFound", f"Interface attachment {attachment_id} was not found"
    )


def checked_eni_id(value: Any) -> str:
    text = "" if value is None else str(value)
    if not text:
        raise errors.missing("NetworkInterfaceId")
    if not is_id(text, "eni"):
        raise errors.malformed("network-interface", text, "eni")
    return text


def owned(s: Session, account: str, eni_id: str, *, lock: bool = False) -> Ec2NetworkInterface:
    """The caller's live interface (one whose instance was terminated went with it)."""
    row = s.get(Ec2NetworkInterface, eni_id, with_for_update=lock or None)
    if row is None or row.account_id != account or _gone(s, row):
        raise errors.not_found("network-interface", eni_id)
    return row


def _gone(s: Session, row: Ec2NetworkInterface) -> bool:
    if row.instance_id is None:
        return False
    state = s.scalar(select(Ec2Instance.state).where(Ec2Instance.id == row.instance_id))
    return state in (None, "terminated")


def _groups_for(
    s: Session, account: str, subnet: Ec2Subnet, ids: list[str]
) -> list[Ec2SecurityGroup]:
    """The groups an interface of `subnet` may have: the caller's groups of its VPC (EDGE's
    for the default VPC), or that VPC's default group when none is named."""
    vpc_key = "" if is_edge_subnet(s, subnet) else subnet.vpc_id
    if not ids:
        return [security_groups.default_in(s, account, vpc_key)]
    found = [security_groups.own_by_id(s, account, g) for g in ids]
    for group in found:
        if group.vpc_id != vpc_key:
            raise different_networks(group.id, subnet.id)
    return list({g.id: g for g in found}.values())


def create_network_interface(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    subnet_id = str(params.get("SubnetId") or "")
    if not subnet_id:
        raise errors.missing("SubnetId")
    wanted = params.get("PrivateIpAddress")
    listed = [p for p in params.get("PrivateIpAddresses") or []]
    secondary_count = int(params.get("SecondaryPrivateIpAddressCount") or 0)
    if secondary_count < 0:
        raise errors.invalid_parameter("SecondaryPrivateIpAddressCount", secondary_count)
    with rt.store.session() as s:
        subnet = named_subnet(s, account, subnet_id)
        groups = _groups_for(s, account, subnet, [str(g) for g in params.get("Groups") or []])
        named = [str(wanted)] if wanted else []
        named += [str(p["PrivateIpAddress"]) for p in listed if p.get("PrivateIpAddress")]
        busy = interface_addresses.taken(s, subnet)
        for address in named:
            if not interface_addresses.usable(rt, s, subnet, address):
                raise errors.invalid_parameter(
                    "PrivateIpAddress", address, f"It is not in the usable range of {subnet.id}."
                )
            if address in busy:
                raise ServiceError(
                    "InvalidIPAddress.InUse",
                    f"The specified address {address} is already in use.",
                )
        if len(set(named)) != len(named):
            raise errors.invalid_value("Duplicate private IP addresses were specified")
        count = (0 if named else 1) + secondary_count
        picked = interface_addresses.pick(rt, s, subnet, count, set(named))
        addresses = named + picked
        eni = Ec2NetworkInterface(
            id=new_id("eni"),
            account_id=account,
            vpc_id=subnet.vpc_id,
            subnet_id=subnet.id,
            zone=subnet.zone,
            private_ip=addresses[0],
            mac=_mac(),
            description=str(params.get("Description") or ""),
            status="available",
            source_dest_check=True,
            interface_type="interface",
            requester_managed=False,
            delete_on_termination=False,
            created_at=now(),
        )
        s.add(eni)
        s.flush()
        s.add_all(
            Ec2NetworkInterfaceAddress(interface_id=eni.id, private_ip=ip) for ip in addresses[1:]
        )
        s.add_all(
            Ec2NetworkInterfaceGroup(interface_id=eni.id, group_id=g.id, position=pos)
            for pos, g in enumerate(groups)
        )
        s.flush()
        apply_tag_specifications(
            s, account, params.get("TagSpecifications"), {"network-interface": [eni.id]}
        )
        bump_network(s)
        (view,) = load(s, live_query(account).where(Ec2NetworkInterface.id == eni.id))
        tags = tags_for(s, account, [eni.id]).get(eni.id, {})
    out: Result = {"NetworkInterface": interface_out(view, tags, dns.names(rt))}
    if params.get("ClientToken"):
        out["ClientToken"] = params["ClientToken"]
    return out


def _mac() -> str:
    # Locally administered, unicast, in the d0: range EDGE's placement never uses.
    return "d0:0d:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(4))


def delete_network_interface(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    eni_id = checked_eni_id(params.get("NetworkInterfaceId"))
    with rt.store.session() as s:
        eni = owned(s, ctx.principal.account_id, eni_id, lock=True)
        if eni.attachment_id or eni.status == "in-use":
            raise in_use(eni.id)
        if eni.requester_managed:
            raise ServiceError(
                "OperationNotPermitted",
                f"You are not allowed to manage '{eni.id}' as it is managed by the service.",
            )
        # An elastic IP associated with it is disassociated, routes to it become blackholes.
        s.execute(
            update(Ec2Address)
            .where(Ec2Address.network_interface_id == eni.id)
            .values(network_interface_id=None, private_ip=None, association_id=None)
        )
        s.execute(
            update(Ec2Route)
            .where(Ec2Route.target_kind == "network-interface", Ec2Route.target_id == eni.id)
            .values(state="blackhole")
        )
        delete_all_tags(s, [eni.id])
        s.delete(eni)
        bump_network(s)
    return {}


def describe_network_interfaces(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    names = dns.names(rt)
    lookups = {**FILTERS, "private-dns-name": dns_filter(names)}
    filters = parse_filters(params.get("Filters"), lookups)
    ids = [checked_eni_id(i) for i in params.get("NetworkInterfaceIds") or []]
    if ids and params.get("MaxResults") is not None:
        raise errors.invalid_combination(
            "The parameter networkInterfaceIdSet cannot be used with the parameter maxResults"
        )
    with rt.store.read() as s:
        query = live_query(account)
        if ids:
            query = query.where(Ec2NetworkInterface.id.in_(ids))
        found = load(s, query)
        tags = tags_for(s, account, [e.id for e in found], "network-interface") if found else {}
    have = {e.id for e in found}
    for i in ids:
        if i not in have:
            raise errors.not_found("network-interface", i)
    chosen = [e for e in found if matches(filters, lookup(lookups, e), tags.get(e.id, {}))]
    items, token = page(chosen, params, key=lambda e: e.id)
    out: Result = {
        "NetworkInterfaces": [interface_out(e, tags.get(e.id, {}), names) for e in items]
    }
    if token:
        out["NextToken"] = token
    return out


def _view(s: Session, account: str, eni_id: str) -> Interface:
    (view,) = load(s, live_query(account).where(Ec2NetworkInterface.id == eni_id))
    return view


def describe_network_interface_attribute(
    rt: Runtime, ctx: RequestContext, params: Params
) -> Result:
    eni_id = checked_eni_id(params.get("NetworkInterfaceId"))
    attribute = str(params.get("Attribute") or "")
    if attribute not in _ATTRIBUTES:
        raise errors.invalid_parameter("Attribute", attribute or None)
    account = ctx.principal.account_id
    with rt.store.read() as s:
        owned(s, account, eni_id)
        view = _view(s, account, eni_id)
    full = interface_out(view, {}, dns.names(rt))
    out: Result = {"NetworkInterfaceId": eni_id}
    if attribute == "description":
        out["Description"] = {"Value": view.description}
    elif attribute == "groupSet":
        out["Groups"] = full["Groups"]
    elif attribute == "sourceDestCheck":
        out["SourceDestCheck"] = {"Value": view.source_dest_check}
    elif "Attachment" in full:
        out["Attachment"] = full["Attachment"]
    return out


def _flag(value: Any) -> bool:
    raw = value.get("Value") if isinstance(value, dict) else value
    return raw is True or str(raw).lower() == "true"


def modify_network_interface_attribute(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    eni_id = checked_eni_id(params.get("NetworkInterfaceId"))
    account = ctx.principal.account_id
    changes = [k for k in ("Description", "SourceDestCheck", "Groups", "Attachment") if k in params]
    if len(changes) != 1:
        raise errors.invalid_combination(
            "Fields for multiple attribute types specified: " + ", ".join(changes or ["none"])
        )
    with rt.store.session() as s:
        eni = owned(s, account, eni_id, lock=True)
        if "Description" in params:
            eni.description = str((params["Description"] or {}).get("Value") or "")
        elif "SourceDestCheck" in params:
            wanted = _flag(params["SourceDestCheck"])
            if not wanted and is_edge_subnet(s, _subnet(s, eni)):
                # EDGE's ebtables tie each VM port to its own addresses.
                raise errors.no_source_dest_check()
            eni.source_dest_check = wanted
        elif "Groups" in params:
            _set_groups(s, account, eni, [str(g) for g in params["Groups"] or []])
        else:
            _set_attachment(eni, params["Attachment"] or {})
        bump_network(s)
    return {}


def _subnet(s: Session, eni: Ec2NetworkInterface) -> Ec2Subnet:
    subnet = s.get(Ec2Subnet, eni.subnet_id)
    if subnet is None:  # a subnet with interfaces is not deletable
        raise errors.vpc_resource_not_found("subnet", eni.subnet_id)
    return subnet


def _set_attachment(eni: Ec2NetworkInterface, attachment: dict[str, Any]) -> None:
    attachment_id = str(attachment.get("AttachmentId") or "")
    if not attachment_id:
        raise errors.missing("Attachment.AttachmentId")
    if attachment_id != eni.attachment_id:
        raise attachment_not_found(attachment_id)
    if "DeleteOnTermination" in attachment:
        keep = not _flag(attachment["DeleteOnTermination"])
        if keep and eni.device_index == 0:
            # An EDGE instance's one NIC is made and deleted with it.
            raise errors.unsupported(
                "The primary network interface of an instance in the default VPC is deleted "
                "with it: DeleteOnTermination cannot be false"
            )
        eni.delete_on_termination = not keep


def _set_groups(s: Session, account: str, eni: Ec2NetworkInterface, ids: list[str]) -> None:
    if not ids:
        raise errors.missing("SecurityGroupId")
    groups = _groups_for(s, account, _subnet(s, eni), ids)
    if eni.instance_id is not None and eni.device_index == 0:
        # A primary interface's groups are its instance's: what EDGE's firewalls read.
        instance = s.get(Ec2Instance, eni.instance_id)
        if instance is not None:
            security_groups.set_membership(s, instance.id, [g.id for g in groups])
            instance.security_groups = json.dumps(security_groups.group_refs(groups))
        return
    s.execute(
        delete(Ec2NetworkInterfaceGroup).where(Ec2NetworkInterfaceGroup.interface_id == eni.id)
    )
    s.add_all(
        Ec2NetworkInterfaceGroup(interface_id=eni.id, group_id=g.id, position=pos)
        for pos, g in enumerate(groups)
    )


def attach_network_interface(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    eni_id = checked_eni_id(params.get("NetworkInterfaceId"))
    instance_id = str(params.get("InstanceId") or "")
    if not instance_id:
        raise errors.missing("InstanceId")
    if params.get("DeviceIndex") is None:
        raise errors.missing("DeviceIndex")
    index = int(params["DeviceIndex"])
    account = ctx.principal.account_id
    with rt.store.read() as s:
        eni = owned(s, account, eni_id)
        (instance,) = owned_instances(s, account, [instance_id])
        if instance.state not in ("running", "stopped"):
            raise errors.incorrect_state(instance.id, "attached to")
        if eni.attachment_id:
            raise in_use(eni.id)
        if eni.zone != instance.availability_zone or eni.vpc_id != instance.vpc_id:
            raise errors.invalid_combination(
                f"The network interface {eni.id} and instance {instance.id} are in different "
                "networks or availability zones."
            )
        if index == 0:
            raise errors.invalid_parameter(
                "deviceIndex",
                index,
                f"Instance '{instance.id}' already has an interface attached at device index '0'.",
            )
        raise attachment_limit(instance.instance_type)


def detach_network_interface(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    attachment_id = str(params.get("AttachmentId") or "")
    if not attachment_id:
        raise errors.missing("AttachmentId")
    if not is_id(attachment_id, "eni-attach"):
        raise ServiceError("InvalidAttachmentID.Malformed", f'Invalid id: "{attachment_id}"')
    account = ctx.principal.account_id
    with rt.store.read() as s:
        eni = s.scalar(
            select(Ec2NetworkInterface).where(
                Ec2NetworkInterface.attachment_id == attachment_id,
                Ec2NetworkInterface.account_id == account,
            )
        )
        if eni is None or _gone(s, eni):
            raise attachment_not_found(attachment_id)
        # Only primary interfaces are ever attached on EDGE.
        raise ServiceError(
            "OperationNotPermitted",
            "The network interface at device index 0 cannot be detached.",
        )


def assign_private_ip_addresses(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    eni_id = checked_eni_id(params.get("NetworkInterfaceId"))
    wanted = [str(a) for a in params.get("PrivateIpAddresses") or []]
    count = int(params.get("SecondaryPrivateIpAddressCount") or 0)
    if bool(wanted) == bool(count):
        raise errors.invalid_combination(
            "Exactly one of privateIpAddresses and secondaryPrivateIpAddressCount must be given"
        )
    account = ctx.principal.account_id
    with rt.store.session() as s:
        eni = owned(s, account, eni_id, lock=True)
        if eni.attachment_id:
            # The instance types allow one address per interface (see the module's doc).
            raise address_limit()
        subnet = _subnet(s, eni)
        busy = interface_addresses.taken(s, subnet)
        movable = (
            _secondaries_elsewhere(s, account, eni.id) if params.get("AllowReassignment") else set()
        )
        for address in wanted:
            if not interface_addresses.usable(rt, s, subnet, address):
                raise errors.invalid_parameter(
                    "PrivateIpAddresses", address, f"It is not in the usable range of {subnet.id}."
                )
            if address in busy and address not in movable:
                raise ServiceError(
                    "InvalidParameterValue",
                    f"Address {address} is in subnet's reserved address range or is in use",
                )
        picked = wanted or interface_addresses.pick(rt, s, subnet, count, set())
        # AllowReassignment: a secondary address moves from the account's other interface.
        s.execute(
            delete(Ec2NetworkInterfaceAddress).where(
                Ec2NetworkInterfaceAddress.private_ip.in_([a for a in picked if a in movable]),
                Ec2NetworkInterfaceAddress.interface_id != eni.id,
            )
        )
        s.add_all(Ec2NetworkInterfaceAddress(interface_id=eni.id, private_ip=ip) for ip in picked)
        bump_network(s)
    return {
        "NetworkInterfaceId": eni_id,
        "AssignedPrivateIpAddresses": [{"PrivateIpAddress": ip} for ip in picked],
    }


def _secondaries_elsewhere(s: Session, account: str, eni_id: str) -> set[str]:
    """Secondary addresses of the account's other interfaces: what AllowReassignment moves
    (a primary address never moves)."""
    found = s.scalars(
        select(Ec2NetworkInterfaceAddress.private_ip)
        .join(
            Ec2NetworkInterface, Ec2NetworkInterface.id == Ec2NetworkInterfaceAddress.interface_id
        )
        .where(Ec2NetworkInterface.account_id == account, Ec2NetworkInterface.id != eni_id)
    ).all()
    return set(found)


def unassign_private_ip_addresses(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    eni_id = checked_eni_id(params.get("NetworkInterfaceId"))
    wanted = [str(a) for a in params.get("PrivateIpAddresses") or []]
    if not wanted:
        raise errors.missing("PrivateIpAddresses")
    with rt.store.session() as s:
        eni = owned(s, ctx.principal.account_id, eni_id, lock=True)
        held = set(
            s.scalars(
                select(Ec2NetworkInterfaceAddress.private_ip).where(
                    Ec2NetworkInterfaceAddress.interface_id == eni.id
                )
            ).all()
        )
        for address in wanted:
            if address not in held:
                raise ServiceError(
                    "InvalidParameterValue",
                    f"Some of the specified addresses are not assigned to interface {eni.id}",
                )
        s.execute(
            delete(Ec2NetworkInterfaceAddress).where(
                Ec2NetworkInterfaceAddress.interface_id == eni.id,
                Ec2NetworkInterfaceAddress.private_ip.in_(wanted),
            )
        )
        bump_network(s)
    return {}


def _check_eni(s: Session, account_id: str, resource_id: str) -> None:
    row = s.get(Ec2NetworkInterface, resource_id)
    if row is None or row.account_id != account_id or _gone(s, row):
        raise errors.not_found("network-interface", resource_id)


register_resource_check("network-interface", _check_eni)


OPERATIONS: Operations = {
    "AssignPrivateIpAddresses": assign_private_ip_addresses,
    "AttachNetworkInterface": attach_network_interface,
    "CreateNetworkInterface": create_network_interface,
    "DeleteNetworkInterface": delete_network_interface,
    "DescribeNetworkInterfaceAttribute": describe_network_interface_attribute,
    "DescribeNetworkInterfaces": describe_network_interfaces,
    "DetachNetworkInterface": detach_network_interface,
    "ModifyNetworkInterfaceAttribute": modify_network_interface_attribute,
    "UnassignPrivateIpAddresses": unassign_private_ip_addresses,
}
