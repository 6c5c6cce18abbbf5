"""The EC2 error codes the resource families share, with AWS's wording.

`kind` names the resource the way EC2's codes do: an id prefix ("i", "emi", "vol", ...) or a
resource type ("instance", "image", "key-pair", ...) both work.
"""

from __future__ import annotations

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
