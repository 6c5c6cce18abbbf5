"""Every table module, imported so Base.metadata knows them all (Alembic autogenerate reads it)."""

from mallee.store.tables import (
    compute,
    ebs,
    ec2,
    iam,
    imports,
    interfaces,
    network,
    registry,
    s3,
    vpc,
)

__all__ = [
    "compute",
    "ebs",
    "ec2",
    "iam",
    "imports",
    "interfaces",
    "network",
    "registry",
    "s3",
    "vpc",
]
