"""Every table module, imported so Base.metadata knows them all (Alembic autogenerate reads it)."""

from mallee.store.tables import (
    alarms,
    autoscaling,
    compute,
    ebs,
    ec2,
    elb,
    iam,
    imports,
    interfaces,
    launch_templates,
    metric_sources,
    metrics,
    network,
    registry,
    s3,
    vpc,
)

__all__ = [
    "alarms",
    "autoscaling",
    "compute",
    "ebs",
    "ec2",
    "elb",
    "iam",
    "imports",
    "interfaces",
    "launch_templates",
    "metric_sources",
    "metrics",
    "network",
    "registry",
    "s3",
    "vpc",
]
