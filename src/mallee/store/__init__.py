"""Persistent state: SQLAlchemy 2 tables, sessions and Alembic migrations."""

from mallee.store.db import Base, Store

__all__ = ["Base", "Store"]
