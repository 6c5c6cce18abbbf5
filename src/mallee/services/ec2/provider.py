"""EC2 (compute): the provider is the union of one operations mixin per resource family."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.services.ec2.addresses import AddressesApi
from mallee.services.ec2.image_attributes import ImageAttributesApi
from mallee.services.ec2.images import ImagesApi
from mallee.services.ec2.instance_attributes import InstanceAttributesApi
from mallee.services.ec2.instance_types import InstanceTypesApi
from mallee.services.ec2.instances import InstancesApi
from mallee.services.ec2.keypairs import KeyPairsApi
from mallee.services.ec2.regions import RegionsApi
from mallee.services.ec2.security_groups import SecurityGroupsApi
from mallee.services.ec2.tags import TagsApi


class Ec2Provider(
    InstancesApi,
    InstanceAttributesApi,
    ImagesApi,
    ImageAttributesApi,
    KeyPairsApi,
    SecurityGroupsApi,
    TagsApi,
    RegionsApi,
    InstanceTypesApi,
    AddressesApi,
):
    service: ClassVar[str] = "ec2"
    action_prefix: ClassVar[str] = "ec2"
    # Eucalyptus: only the cloud administrator edits the instance types.
    admin_operations: ClassVar[frozenset[str]] = frozenset({"ModifyInstanceTypeAttribute"})

    def prepare(self, ctx: RequestContext) -> None:
        # EC2's DryRun: the caller is authorized (the chain checked), so say so and stop.
        if ctx.params.get("DryRun"):
            raise ServiceError(
                "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
            )
