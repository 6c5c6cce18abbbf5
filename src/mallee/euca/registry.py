"""Every command by the name it is run as. A new command: its module, then one line here
(and one in pyproject.toml's [project.scripts])."""

from __future__ import annotations

from mallee.euca.command import Command
from mallee.euca.commands import (
    addresses,
    euca_conf,
    groups,
    images,
    instance_attributes,
    instance_types,
    instances,
    keypairs,
    properties,
    services,
    snapshots,
    tags,
    volumes,
)

_ALL: tuple[Command, ...] = (
    euca_conf.EUCA_CONF,
    services.DESCRIBE_SERVICES,
    properties.DESCRIBE_PROPERTIES,
    properties.MODIFY_PROPERTY,
    instances.RUN_INSTANCES,
    instances.DESCRIBE_INSTANCES,
    instances.TERMINATE_INSTANCES,
    instances.MONITOR_INSTANCES,
    instances.UNMONITOR_INSTANCES,
    instance_attributes.GET_CONSOLE_OUTPUT,
    instance_attributes.MODIFY_INSTANCE_ATTRIBUTE,
    images.DESCRIBE_IMAGES,
    images.REGISTER,
    images.INSTALL_IMAGE,
    tags.CREATE_TAGS,
    tags.DELETE_TAGS,
    tags.DESCRIBE_TAGS,
    instance_types.DESCRIBE_INSTANCE_TYPES,
    instance_types.DESCRIBE_AVAILABILITY_ZONES,
    keypairs.CREATE_KEYPAIR,
    keypairs.DESCRIBE_KEYPAIRS,
    keypairs.DELETE_KEYPAIR,
    groups.CREATE_GROUP,
    groups.DESCRIBE_GROUPS,
    groups.DELETE_GROUP,
    groups.AUTHORIZE,
    groups.REVOKE,
    addresses.ALLOCATE_ADDRESS,
    addresses.ASSOCIATE_ADDRESS,
    addresses.DESCRIBE_ADDRESSES,
    addresses.DISASSOCIATE_ADDRESS,
    addresses.RELEASE_ADDRESS,
    volumes.CREATE_VOLUME,
    volumes.ATTACH_VOLUME,
    volumes.DETACH_VOLUME,
    volumes.DELETE_VOLUME,
    volumes.DESCRIBE_VOLUMES,
    snapshots.CREATE_SNAPSHOT,
    snapshots.DESCRIBE_SNAPSHOTS,
    snapshots.DELETE_SNAPSHOT,
)

COMMANDS: dict[str, Command] = {c.name: c for c in _ALL}
