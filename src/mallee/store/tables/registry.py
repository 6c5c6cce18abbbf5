"""Service registry and cloud properties (Empyrean)."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base


class ServiceRow(Base):
    """One registered component: an api process, the controller, a node, a storage service...

    `admin_state` is what the administrator asked for (ENABLED, DISABLED, STOPPED); the state
    DescribeServices reports is derived from it and from the heartbeat at read time, so no sweeper
    has to run for a dead component to show NOTREADY.
    """

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    # Availability zone for partitioned types (node, cluster, storage); may be empty.
    partition: Mapped[str] = mapped_column(String(255), default="")
    admin_state: Mapped[str] = mapped_column(String(16), default="ENABLED")
    # Bumped on every administrative state change; reported as localEpoch.
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Epoch seconds. claimed_at is None for a pre-registered service no process has claimed yet.
    registered_at: Mapped[float] = mapped_column(Float)
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    last_heartbeat: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    # Set by a component that is running but cannot serve (reported as BROKEN with this detail).
    fault: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)


class PropertyRow(Base):
    """A cloud property the administrator has set; absent rows mean the catalog default."""

    __tablename__ = "cloud_properties"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    # Canonical text form, as validated by the property's type (see registry/properties.py).
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float)
