"""The kinds of component that can appear in the service registry.

Eucalyptus calls these component types (DescribeAvailableServiceTypes). Names are what
`euserv-register-service -t TYPE` takes and what each mallee process registers itself as.
"""

from __future__ import annotations

from dataclasses import dataclass

from mallee.registry import errors


@dataclass(frozen=True, slots=True)
class ServiceType:
    name: str
    description: str
    # Port a RegisterService without Port gets (Eucalyptus: 8773, NCs 8775).
    default_port: int
    # Partitioned services live in one availability zone and must be registered with one.
    partitioned: bool = False
    # Serves an API users call directly.
    public_api: bool = False
    # Hidden from a plain DescribeServices, as Eucalyptus lists node controllers separately;
    # ListAll, ListInternal, a type filter or an explicit name shows them.
    internal: bool = False
    # Whether an administrator may place it with RegisterService.
    registerable: bool = True
    # Service groups this type belongs to, and members if it is a group (none in mallee).
    groups: tuple[str, ...] = ()
    members: tuple[str, ...] = ()

    @property
    def capitalized(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))


SERVICE_TYPES: dict[str, ServiceType] = {
    t.name: t
    for t in (
        ServiceType(
            "user-api",
            "The user-facing APIs (EC2, S3, IAM, STS, ELB, CloudWatch, Auto Scaling, "
            "CloudFormation) and the Empyrean admin API, served by `mallee api`",
            8773,
            public_api=True,
        ),
        ServiceType(
            "controller",
            "Cloud controller backends (`mallee controller`): scheduling, the instance state "
            "machine, volumes and the other reconcilers; one active, the others standby",
            8773,
        ),
        ServiceType(
            "node",
            "Node controller (`mallee node`): runs instances with QEMU and applies EDGE "
            "networking on one host",
            8775,
            partitioned=True,
            internal=True,
        ),
        ServiceType(
            "storage",
            "Storage controller: EBS volumes and snapshots for one availability zone",
            8773,
            partitioned=True,
        ),
        ServiceType(
            "objectstorage",
            "Object storage gateway: the S3 API, when run apart from user-api",
            8773,
            public_api=True,
        ),
    )
}


def service_type(name: str) -> ServiceType:
    """The type named `name` (case-insensitive), or InvalidParameterValue."""
    found = SERVICE_TYPES.get(name.lower())
    if found is None:
        raise errors.unknown_type(name, SERVICE_TYPES)
    return found
