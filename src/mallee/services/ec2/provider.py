"""EC2 (compute): one operations table per resource family, joined into the provider's."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.services.base import Operations, Provider, operations_of
from mallee.services.ec2 import (
    account_attributes,
    addresses,
    block_device_arns,
    conversion_tasks,
    create_image,
    default_vpc,
    dhcp_options,
    ebs_images,
    errors,
    image_attributes,
    images,
    import_images,
    import_instances,
    import_tasks,
    instance_attributes,
    instance_types,
    instances,
    internet_gateways,
    keypairs,
    launch_template_arns,
    launch_templates,
    nat_gateways,
    network_acls,
    network_interfaces,
    regions,
    route_tables,
    security_groups,
    snapshots,
    subnets,
    tags,
    volume_attachments,
    volumes,
    vpc_arns,
    vpcs,
)


class Ec2Provider(Provider):
    service: ClassVar[str] = "ec2"
    action_prefix: ClassVar[str] = "ec2"
    operations: ClassVar[Operations] = operations_of(
        instances.OPERATIONS,
        instance_attributes.OPERATIONS,
        images.OPERATIONS,
        ebs_images.OPERATIONS,
        create_image.OPERATIONS,
        image_attributes.OPERATIONS,
        keypairs.OPERATIONS,
        security_groups.OPERATIONS,
        tags.OPERATIONS,
        regions.OPERATIONS,
        instance_types.OPERATIONS,
        addresses.OPERATIONS,
        volumes.OPERATIONS,
        volume_attachments.OPERATIONS,
        snapshots.OPERATIONS,
        conversion_tasks.OPERATIONS,
        import_tasks.OPERATIONS,
        import_instances.OPERATIONS,
        import_images.OPERATIONS,
        vpcs.OPERATIONS,
        default_vpc.OPERATIONS,
        subnets.OPERATIONS,
        internet_gateways.OPERATIONS,
        route_tables.OPERATIONS,
        network_acls.OPERATIONS,
        dhcp_options.OPERATIONS,
        nat_gateways.OPERATIONS,
        account_attributes.OPERATIONS,
        network_interfaces.OPERATIONS,
        launch_templates.OPERATIONS,
    )
    # Eucalyptus: only the cloud administrator edits the instance types.
    admin_operations: ClassVar[frozenset[str]] = frozenset({"ModifyInstanceTypeAttribute"})
    # Reads that make the account's default VPC (or a new zone's default subnet) on first need.
    writing_reads: ClassVar[frozenset[str]] = default_vpc.MAKES_DEFAULT_VPC

    def resources(self, ctx: RequestContext) -> list[str]:
        # Volume and snapshot operations are authorized on the volumes, snapshots (and
        # instances) they name, as AWS's resource-level permissions, and so are launches and
        # image registrations on the snapshots they use; the others on "*".
        return (
            launch_template_arns.resources(self.store, ctx)
            or snapshots.resources(ctx)
            or volume_attachments.resources(self.store, ctx)
            or block_device_arns.resources(self.store, ctx)
            or vpc_arns.resources(self.store, ctx)
            or ["*"]
        )

    def prepare(self, ctx: RequestContext) -> None:
        # EC2's DryRun: the caller is authorized (the chain checked), so say so and stop.
        if ctx.params.get("DryRun"):
            raise errors.dry_run()
