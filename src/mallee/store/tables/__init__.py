"""Every table module, imported so Base.metadata knows them all (Alembic autogenerate reads it)."""

from mallee.store.tables import iam, registry

__all__ = ["iam", "registry"]
