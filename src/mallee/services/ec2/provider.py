"""EC2 (compute): the provider is the union of one operations mixin per resource family."""

from __future__ import annotations

from typing import ClassVar

from mallee.services.ec2.images import ImagesApi
from mallee.services.ec2.instance_types import InstanceTypesApi
from mallee.services.ec2.instances import InstancesApi
from mallee.services.ec2.keypairs import KeyPairsApi
from mallee.services.ec2.regions import RegionsApi
from mallee.services.ec2.tags import TagsApi


class Ec2Provider(InstancesApi, ImagesApi, KeyPairsApi, TagsApi, RegionsApi, InstanceTypesApi):
    service: ClassVar[str] = "ec2"
    action_prefix: ClassVar[str] = "ec2"
    # Eucalyptus: only the cloud administrator edits the instance types.
    admin_operations: ClassVar[frozenset[str]] = frozenset({"ModifyInstanceTypeAttribute"})
