"""Every error EC2 answers, with AWS's wording (or Eucalyptus' where AWS has none).

`kind` names the resource the way EC2's codes do: an id prefix ("i", "emi", "vol", ...) or a
resource type ("instance", "image", "key-pair", ...) both work.
"""

from __future__ import annotations

from collections.abc import Sequence

from mallee.api.errors import ServiceError

# resource type -> (code stem, how AWS's messages name it)
_KINDS: dict[str, tuple[str, str]] = {
    "instance": ("InvalidInstanceID", "instance ID"),
    "image": ("InvalidAMIID", "image id"),
    "key-pair": ("InvalidKeyPair", "key pair"),
    "volume": ("InvalidVolume", "volume"),
    "snapshot": ("InvalidSnapshot", "snapshot"),
    "security-group": ("InvalidGroup", "security group"),
    "elastic-ip": ("InvalidAllocationID", "allocation ID"),
    "reservation": ("InvalidReservationID", "reservation ID"),
    "subnet": ("InvalidSubnetID", "subnet ID"),
    "network-interface": ("InvalidNetworkInterfaceID", "networkInterface ID"),
}
_PREFIX_KINDS = {
    "i": "instance",
    "emi": "image",
    "eki": "image",
    "eri": "image",
    "ami": "image",
    "key": "key-pair",
    "vol": "volume",
    "snap": "snapshot",
    "sg": "security-group",
    "eipalloc": "elastic-ip",
    "r": "reservation",
    "subnet": "subnet",
    "eni": "network-interface",
}


def _kind(kind: str) -> tuple[str, str]:
    return _KINDS.get(_PREFIX_KINDS.get(kind, kind), ("InvalidID", "ID"))


def not_found(kind: str, resource_id: str) -> ServiceError:
    stem, noun = _kind(kind)
    if stem == "InvalidAMIID":
        return ServiceError(f"{stem}.NotFound", f"The image id '[{resource_id}]' does not exist")
    return ServiceError(f"{stem}.NotFound", f"The {noun} '{resource_id}' does not exist")


def malformed(kind: str, resource_id: str, expecting: str = "") -> ServiceError:
    stem, _ = _kind(kind)
    if stem == "InvalidID":
        return invalid_id(resource_id)
    hint = f' (expecting "{expecting}-...")' if expecting else ""
    return ServiceError(f"{stem}.Malformed", f'Invalid id: "{resource_id}"{hint}')


def invalid_id(resource_id: str) -> ServiceError:
    return ServiceError("InvalidID", f"The ID '{resource_id}' is not valid")


def invalid_value(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message)


def invalid_parameter(name: str, value: object, why: str = "") -> ServiceError:
    """AWS's "Value (x) for parameter y is invalid." with an optional reason."""
    tail = f" {why}" if why else ""
    return ServiceError(
        "InvalidParameterValue", f"Value ({value}) for parameter {name} is invalid.{tail}"
    )


def missing(name: str) -> ServiceError:
    return ServiceError("MissingParameter", f"The request must contain the parameter {name}")


def unsupported(message: str) -> ServiceError:
    return ServiceError("Unsupported", message)


def auth_failure(message: str) -> ServiceError:
    return ServiceError("AuthFailure", message)


def unauthorized_operation(detail: str) -> ServiceError:
    """A policy denial: EC2 says UnauthorizedOperation where IAM and S3 say AccessDenied."""
    return ServiceError(
        "UnauthorizedOperation", f"You are not authorized to perform this operation. {detail}", 403
    )


def invalid_combination(message: str) -> ServiceError:
    return ServiceError("InvalidParameterCombination", message)


def unsupported_operation(message: str) -> ServiceError:
    return ServiceError("UnsupportedOperation", message)


def dry_run() -> ServiceError:
    """EC2's answer to an authorized DryRun."""
    return ServiceError(
        "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
    )


# Describe filters and pages ----------------------------------------------------------------


def invalid_filter(name: str) -> ServiceError:
    return invalid_value(f"The filter '{name}' is invalid")


def filter_without_values(name: str) -> ServiceError:
    return invalid_value(f"The filter '{name}' must have at least one value")


def bad_next_token(token: object) -> ServiceError:
    """AWS's wording for a NextToken it did not issue."""
    return invalid_value(
        f"Value ( {token} ) for parameter NextToken is invalid. The token is invalid."
    )


def bad_max_results(raw: object, low: int, high: int) -> ServiceError:
    return invalid_value(
        f"Value ( {raw} ) for parameter maxResults is invalid. "
        f"Expecting a value between {low} and {high}."
    )


# Instances ----------------------------------------------------------------------------------


def instances_not_found(ids: Sequence[str]) -> ServiceError:
    """Instances the caller asked for by id (the plural AWS uses for several)."""
    shown = ", ".join(ids)
    noun = "IDs" if len(ids) > 1 else "ID"
    return ServiceError("InvalidInstanceID.NotFound", f"The instance {noun} '{shown}' do not exist")


def incorrect_state(instance_id: str, action: str) -> ServiceError:
    return ServiceError(
        "IncorrectInstanceState",
        f"The instance '{instance_id}' is not in a state from which it can be {action}.",
    )


def not_stopped(instance_id: str) -> ServiceError:
    return ServiceError(
        "IncorrectInstanceState", f"The instance '{instance_id}' is not in the 'stopped' state."
    )


def not_attachable(instance_id: str) -> ServiceError:
    return ServiceError(
        "IncorrectInstanceState",
        f"The instance '{instance_id}' is not in a valid state for this operation.",
    )


def termination_disabled(instance_id: str) -> ServiceError:
    return ServiceError(
        "OperationNotPermitted",
        f"The instance '{instance_id}' may not be terminated. Modify its "
        "'disableApiTermination' instance attribute and try again.",
    )


def not_ebs(instance_id: str) -> ServiceError:
    return unsupported_operation(
        f"The instance '{instance_id}' does not have an 'ebs' root device type and "
        "cannot be stopped."
    )


def no_source_dest_check() -> ServiceError:
    return unsupported_operation("EDGE networking does not support sourceDestCheck.")


def not_ebs_optimized(instance_id: str) -> ServiceError:
    return unsupported_operation(f"The instance '{instance_id}' cannot be EBS-optimized.")


def no_attributes() -> ServiceError:
    return ServiceError("MissingParameter", "No attributes specified.")


def insufficient_capacity(count: int, instance_type: str, zone: str, free: int) -> ServiceError:
    return ServiceError(
        "InsufficientInstanceCapacity",
        f"There is not enough capacity to fulfill your request for {count} "
        f"{instance_type} instance(s) in {zone}; {free} available.",
        500,
        sender_fault=False,
    )


def unknown_instance_type(name: str) -> ServiceError:
    return invalid_value(f"Invalid value '{name}' for InstanceType.")


def instance_types_not_found(names: Sequence[str]) -> ServiceError:
    return ServiceError(
        "InvalidInstanceType",
        f"The following supplied instance types do not exist: [{', '.join(names)}]",
    )


def invalid_zone(name: str) -> ServiceError:
    return invalid_value(f"Invalid availability zone: [{name}]")


def invalid_region(name: str) -> ServiceError:
    return invalid_value(f"Invalid region: {name}")


# Images -------------------------------------------------------------------------------------


def malformed_user_id(value: str) -> ServiceError:
    return ServiceError("InvalidUserID.Malformed", f'Invalid user id: "{value}"')


def duplicate_image_name(name: str, image_id: str) -> ServiceError:
    return ServiceError(
        "InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {image_id}"
    )


def malformed_image_name() -> ServiceError:
    return ServiceError(
        "InvalidAMIName.Malformed",
        "AMI names must be between 3 and 128 characters long, and may contain letters, "
        "numbers, '(', ')', '.', '-', '/' and '_'",
    )


def bad_attribute_item(kind: str, value: object) -> ServiceError:
    return ServiceError(
        "InvalidAMIAttributeItemValue",
        f'Invalid attribute item value "{value}" for {kind} item type.',
    )


# Key pairs ----------------------------------------------------------------------------------


def bad_key_format(message: str = "Key is not in valid OpenSSH public key format") -> ServiceError:
    return ServiceError("InvalidKey.Format", message)


def duplicate_key_pair(name: str) -> ServiceError:
    return ServiceError("InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.")


def key_pair_id_not_found(key_id: str) -> ServiceError:
    return ServiceError("InvalidKeyPair.NotFound", f"The key pair ID '{key_id}' does not exist")


# Tags ---------------------------------------------------------------------------------------


def tag_limit_exceeded(limit: int) -> ServiceError:
    return ServiceError(
        "TagLimitExceeded", f"The maximum number of Tags for a resource has been reached ({limit})."
    )


# Elastic IPs --------------------------------------------------------------------------------


def address_not_found(ip: str) -> ServiceError:
    return ServiceError("InvalidAddress.NotFound", f"Address '{ip}' not found.")


def address_not_yours(ip: str) -> ServiceError:
    return auth_failure(f"The address '{ip}' does not belong to you.")


def association_not_found(association_id: str) -> ServiceError:
    return ServiceError(
        "InvalidAssociationID.NotFound", f"The association ID '{association_id}' does not exist"
    )


def address_limit_exceeded() -> ServiceError:
    return ServiceError("AddressLimitExceeded", "The maximum number of addresses has been reached.")


def address_in_use(ip: object) -> ServiceError:
    return ServiceError("InvalidIPAddress.InUse", f"Address '{ip}' is in use.")


def already_associated(allocation_id: str, association_id: str | None) -> ServiceError:
    return ServiceError(
        "Resource.AlreadyAssociated",
        f"resource {allocation_id} is already associated with associate-id {association_id}",
    )


# Security groups ----------------------------------------------------------------------------


def malformed_group_id(group_id: str) -> ServiceError:
    return ServiceError(
        "InvalidGroupId.Malformed", f'Invalid id: "{group_id}" (expecting "sg-...")'
    )


def group_reserved(name: str) -> ServiceError:
    return ServiceError("InvalidGroup.Reserved", f"The security group '{name}' is reserved")


def vpc_not_found(vpc_id: object) -> ServiceError:
    return ServiceError("InvalidVpcID.NotFound", f"The vpc ID '{vpc_id}' does not exist")


def duplicate_group(name: str) -> ServiceError:
    return ServiceError("InvalidGroup.Duplicate", f"The security group '{name}' already exists")


def dependency_violation(group_id: str) -> ServiceError:
    return ServiceError("DependencyViolation", f"resource {group_id} has a dependent object")


def default_group_undeletable(group_id: str, name: str) -> ServiceError:
    return ServiceError(
        "CannotDelete",
        f'the specified group: "{group_id}" name: "{name}" cannot be deleted by a user',
    )


def rule_id_not_found(rule_id: str) -> ServiceError:
    return ServiceError(
        "InvalidSecurityGroupRuleId.NotFound",
        f"The security group rule ID '{rule_id}' does not exist",
    )


def duplicate_permission(peer: str | None, protocol_text: str) -> ServiceError:
    """AWS's InvalidPermission.Duplicate, naming the rule the way EC2 does."""
    return ServiceError(
        "InvalidPermission.Duplicate",
        f'the specified rule "peer: {peer}, {protocol_text}, ALLOW" already exists',
    )


def permission_not_found() -> ServiceError:
    return ServiceError(
        "InvalidPermission.NotFound", "The specified rule does not exist in this security group."
    )


def permission_without_peer() -> ServiceError:
    return ServiceError(
        "MissingParameter",
        "Each permission must name at least one peer: an IpRange (CidrIp) or a UserIdGroupPair.",
    )


# Volumes ------------------------------------------------------------------------------------


def volume_in_use(volume_id: str, instance_id: str | None = None) -> ServiceError:
    if instance_id is None:
        return ServiceError("VolumeInUse", f"{volume_id} is already attached to an instance")
    return ServiceError("VolumeInUse", f"Volume {volume_id} is currently attached to {instance_id}")


def volume_not_available(volume_id: str, state: str) -> ServiceError:
    """AWS's IncorrectState for a volume that is not in the state an operation needs."""
    return ServiceError("IncorrectState", f"Volume '{volume_id}' is in the '{state}' state.")


def zone_mismatch(volume_id: str, instance_id: str) -> ServiceError:
    return ServiceError(
        "InvalidVolume.ZoneMismatch",
        f"The volume '{volume_id}' is not in the same availability zone as instance "
        f"'{instance_id}'",
    )


def attachment_limit(instance_id: str, limit: int) -> ServiceError:
    return ServiceError(
        "AttachmentLimitExceeded",
        f"The instance '{instance_id}' already has the maximum of {limit} volumes attached.",
    )


def attachment_not_found(volume_id: str, instance_id: str) -> ServiceError:
    return ServiceError(
        "InvalidAttachment.NotFound",
        f"The volume '{volume_id}' is not attached to instance '{instance_id}'",
    )


def bad_device(device: str) -> ServiceError:
    return invalid_parameter("device", device, f"{device} is not a valid EBS device name.")


def device_in_use(device: str) -> ServiceError:
    return invalid_value(f"Attachment point {device} is already in use")


def bad_volume_size(size: object, volume_type: str, low: int, high: int) -> ServiceError:
    return invalid_value(
        f"The volume size is invalid for {volume_type} volumes: {low} GiB (min) - "
        f"{high} GiB (max). Requested: {size}."
    )


def beyond_capacity(size: int, zone: str, capacity: int) -> ServiceError:
    return invalid_value(
        f"Volume of {size} GiB is beyond the capacity of availability zone {zone} ({capacity} GiB)."
    )


def insufficient_volume_capacity(zone: str) -> ServiceError:
    # AWS's answer when a zone cannot make a volume now: a server fault, to try again later.
    return ServiceError(
        "InsufficientVolumeCapacity",
        f"There is not enough capacity to fulfill your EBS volume provision request in {zone}: "
        "no storage service of the zone is running. Try again later.",
        500,
        sender_fault=False,
    )


def import_task_limit(limit: int) -> ServiceError:
    return ServiceError(
        "ResourceCountLimitExceeded",
        f"You have reached the limit of {limit} active import tasks. Wait for some of them to "
        "complete, or cancel them, and try again.",
    )


def volume_too_small(volume_id: str, size: int, current: int) -> ServiceError:
    return invalid_value(
        f"New size ({size} GiB) for volume {volume_id} is smaller than its current size "
        f"({current} GiB): volumes only grow."
    )


def modification_in_progress(volume_id: str) -> ServiceError:
    return ServiceError(
        "IncorrectModificationState",
        f"Volume {volume_id} is already being modified: wait for that modification to end.",
    )


# Snapshots ----------------------------------------------------------------------------------


def snapshot_not_completed(snapshot_id: str, state: str) -> ServiceError:
    return ServiceError("IncorrectState", f"Snapshot '{snapshot_id}' is in the '{state}' state.")


def snapshot_in_use(snapshot_id: str, user: str) -> ServiceError:
    return ServiceError(
        "InvalidSnapshot.InUse", f"The snapshot {snapshot_id} is currently in use by {user}"
    )


def volume_smaller_than_snapshot(size: int, snapshot_id: str, needed: int) -> ServiceError:
    return invalid_value(
        f"Volume of {size}GiB is smaller than snapshot '{snapshot_id}', expect size >= {needed}GiB"
    )


def bad_snapshot_attribute(name: str) -> ServiceError:
    return invalid_value(f"Value ({name}) for parameter attribute is invalid. Unknown attribute.")


def bad_permission_group(group: str) -> ServiceError:
    return invalid_value(f"Value ({group}) for parameter group is invalid. Only 'all' is allowed.")


def other_region(region: str) -> ServiceError:
    return invalid_value(
        f"Value ({region}) for parameter SourceRegion is invalid: snapshots are copied within "
        "this region only."
    )


# Image import (conversion tasks and import tasks) -------------------------------------------


def task_not_found(task_id: str) -> ServiceError:
    return ServiceError(
        "InvalidConversionTaskId.NotFound", f"The conversion task ID '{task_id}' does not exist"
    )


def task_malformed(task_id: str) -> ServiceError:
    return ServiceError(
        "InvalidConversionTaskId.Malformed", f"The conversion task ID '{task_id}' is malformed"
    )


def task_not_cancellable(task_id: str, state: str) -> ServiceError:
    return ServiceError(
        "IncorrectState", f"The conversion task '{task_id}' is {state} and cannot be cancelled"
    )


# Block device mappings (boot from EBS) ------------------------------------------------------


def invalid_block_device_mapping(message: str) -> ServiceError:
    return ServiceError("InvalidBlockDeviceMapping", message)


def no_root_volume(instance_id: str, device: str) -> ServiceError:
    return ServiceError(
        "IncorrectInstanceState",
        f"The instance '{instance_id}' does not have a volume attached at root ({device})",
    )


def root_volume_attached(volume_id: str, instance_id: str) -> ServiceError:
    return ServiceError(
        "IncorrectState",
        f"Unable to detach root volume '{volume_id}' from instance '{instance_id}': stop the "
        "instance first.",
    )


# VPCs (vpcs, subnets, gateways, route tables, ACLs, DHCP options, NAT gateways) ------------

# id prefix -> (NotFound code, how its message names it, Malformed code)
_VPC_KINDS: dict[str, tuple[str, str, str]] = {
    "vpc": ("InvalidVpcID.NotFound", "vpc ID", "InvalidVpcID.Malformed"),
    "subnet": ("InvalidSubnetID.NotFound", "subnet ID", "InvalidSubnetID.Malformed"),
    "igw": (
        "InvalidInternetGatewayID.NotFound",
        "internetGateway ID",
        "InvalidInternetGatewayId.Malformed",
    ),
    "rtb": ("InvalidRouteTableID.NotFound", "routeTable ID", "InvalidRouteTableId.Malformed"),
    "acl": ("InvalidNetworkAclID.NotFound", "networkAcl ID", "InvalidNetworkAclId.Malformed"),
    "dopt": ("InvalidDhcpOptionID.NotFound", "dhcpOption ID", "InvalidDhcpOptionsId.Malformed"),
    "rtbassoc": (
        "InvalidAssociationID.NotFound",
        "association ID",
        "InvalidAssociationID.Malformed",
    ),
    "aclassoc": (
        "InvalidAssociationID.NotFound",
        "association ID",
        "InvalidAssociationID.Malformed",
    ),
    "nat": ("NatGatewayNotFound", "Nat Gateway", "NatGatewayMalformed"),
}


def vpc_resource_not_found(prefix: str, resource_id: str) -> ServiceError:
    code, noun, _ = _VPC_KINDS[prefix]
    if prefix == "nat":
        return ServiceError(code, f"The {noun} {resource_id} was not found")
    return ServiceError(code, f"The {noun} '{resource_id}' does not exist")


def vpc_resource_malformed(prefix: str, resource_id: str) -> ServiceError:
    _, _, code = _VPC_KINDS[prefix]
    return ServiceError(code, f'Invalid id: "{resource_id}" (expecting "{prefix}-...")')


def vpc_range(cidr: object) -> ServiceError:
    return ServiceError("InvalidVpc.Range", f"The CIDR '{cidr}' is invalid.")


def subnet_range(cidr: object) -> ServiceError:
    return ServiceError("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")


def subnet_conflict(cidr: object) -> ServiceError:
    return ServiceError(
        "InvalidSubnet.Conflict", f"The CIDR '{cidr}' conflicts with another subnet"
    )


def has_dependencies(noun: str, resource_id: str) -> ServiceError:
    """AWS's DependencyViolation for a VPC resource ("vpc", "subnet", "internetGateway", ...)."""
    return ServiceError(
        "DependencyViolation",
        f"The {noun} '{resource_id}' has dependencies and cannot be deleted.",
    )


def default_vpc_exists() -> ServiceError:
    return ServiceError(
        "DefaultVpcAlreadyExists", "A Default VPC already exists for this account in this region."
    )


def gateway_already_attached(gateway_id: str, vpc_id: str) -> ServiceError:
    return ServiceError(
        "Resource.AlreadyAssociated",
        f"resource {gateway_id} is already attached to network {vpc_id}",
    )


def vpc_has_gateway(vpc_id: str, gateway_id: str) -> ServiceError:
    return ServiceError(
        "Resource.AlreadyAssociated",
        f"network {vpc_id} already has an internet gateway attached ({gateway_id})",
    )


def gateway_not_attached(gateway_id: str, vpc_id: str) -> ServiceError:
    return ServiceError(
        "Gateway.NotAttached", f"resource {gateway_id} is not attached to network {vpc_id}"
    )


def subnet_already_associated(subnet_id: str, table_id: str) -> ServiceError:
    return ServiceError(
        "Resource.AlreadyAssociated",
        f"the specified association for route table {table_id} conflicts with an existing "
        f"association ({subnet_id})",
    )


def route_exists(destination: str) -> ServiceError:
    return ServiceError(
        "RouteAlreadyExists", f"The route identified by {destination} already exists."
    )


def route_not_found(destination: str, table_id: str) -> ServiceError:
    return ServiceError(
        "InvalidRoute.NotFound",
        f"no route with destination-cidr-block {destination} in route table {table_id}",
    )


def different_networks(table_id: str, target_id: str) -> ServiceError:
    return invalid_value(
        f"route table {table_id} and network gateway {target_id} belong to different networks"
    )


def acl_entry_exists(rule_number: int) -> ServiceError:
    return ServiceError(
        "NetworkAclEntryAlreadyExists",
        f"The network acl entry identified by {rule_number} already exists.",
    )


def acl_entry_not_found(rule_number: int, egress: bool, acl_id: str) -> ServiceError:
    way = "egress" if egress else "ingress"
    return ServiceError(
        "InvalidNetworkAclEntry.NotFound",
        f"No {way} rule with number {rule_number} found in network acl {acl_id}",
    )


def default_acl_undeletable(acl_id: str) -> ServiceError:
    return invalid_value(f"cannot delete default network ACL {acl_id}")


def main_table_undeletable(table_id: str) -> ServiceError:
    return has_dependencies("routeTable", table_id)


def address_taken(allocation_id: str) -> ServiceError:
    return ServiceError(
        "Resource.AlreadyAssociated", f"Elastic IP address {allocation_id} is already associated"
    )


def nat_not_deletable(nat_id: str, state: str) -> ServiceError:
    return ServiceError(
        "InvalidParameter",
        f"The NAT gateway {nat_id} is in the {state} state and cannot be deleted",
    )
