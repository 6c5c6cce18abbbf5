"""What a launch configuration names, checked at creation as AWS checks it (ValidationError):
the image exists and the account may launch it (its own, public, or shared by a launch
permission, as RunInstances decides), the instance type, the key pair and the security groups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mallee.services.autoscaling import errors
from mallee.store.tables.ec2 import Ec2Image, Ec2InstanceType, Ec2KeyPair, Ec2LaunchPermission
from mallee.store.tables.network import Ec2SecurityGroup

_IMAGE_ID = re.compile(r"(emi|ami|eki|aki|eri|ari)-[0-9a-f]{8,17}")
DEFAULT_GROUP = "default"


def image(s: Session, account_id: str, image_id: str, kind: str = "machine") -> Ec2Image:
    """The image, if it exists, is available, is a `kind` image and the account may launch it."""
    found = s.get(Ec2Image, image_id) if _IMAGE_ID.fullmatch(image_id) else None
    usable = found is not None and found.state == "available" and found.image_type == kind
    if usable and found is not None and not (found.is_public or found.account_id == account_id):
        usable = s.get(Ec2LaunchPermission, (image_id, account_id)) is not None
    if not usable or found is None:
        if kind == "machine":
            raise errors.validation(f"The image id '[{image_id}]' does not exist")
        raise errors.validation(f"The {kind} id '[{image_id}]' does not exist")
    return found


def instance_type(s: Session, name: str) -> str:
    if s.get(Ec2InstanceType, name) is None:
        raise errors.validation(f"The instance type '{name}' is invalid.")
    return name


def key_pair(s: Session, account_id: str, name: str) -> str:
    if not name:
        return ""
    found = s.scalars(
        select(Ec2KeyPair.id).where(Ec2KeyPair.account_id == account_id, Ec2KeyPair.name == name)
    ).first()
    if found is None:
        raise errors.validation(f"The key pair '{name}' does not exist")
    return name


def security_groups(s: Session, account_id: str, wanted: Sequence[str]) -> list[str]:
    """The groups as given (names of EDGE's groups, or ids of any), each one the caller's."""
    if not wanted:
        return []
    rows = s.execute(
        select(Ec2SecurityGroup.id, Ec2SecurityGroup.name, Ec2SecurityGroup.vpc_id).where(
            Ec2SecurityGroup.account_id == account_id,
            or_(Ec2SecurityGroup.id.in_(wanted), Ec2SecurityGroup.name.in_(wanted)),
        )
    ).all()
    # Every account has its default group, which EC2 makes at its first use.
    known = {r.id for r in rows} | {r.name for r in rows if r.vpc_id == ""} | {DEFAULT_GROUP}
    for name in wanted:
        if name not in known:
            raise errors.validation(f"The security group '{name}' does not exist")
    return list(dict.fromkeys(wanted))
