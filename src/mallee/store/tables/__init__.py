"""Every table module, imported so Base.metadata knows them all (Alembic autogenerate reads it)."""

from mallee.store.tables import compute, ec2, iam, network, registry, s3

__all__ = ["compute", "ec2", "iam", "network", "registry", "s3"]
