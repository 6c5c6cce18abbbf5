"""EC2 launch templates and their versions.

The api (services/ec2/launch_templates*.py) alone writes these rows: a template is created
with its version 1, each CreateLaunchTemplateVersion adds the next number, and versions are
immutable once written. RunInstances (and Auto Scaling's group engine, through it) reads a
version's `data` as the defaults of a launch. Tags are EC2's (ec2_tags, resource type
`launch-template`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base


class Ec2LaunchTemplate(Base):
    __tablename__ = "ec2_launch_templates"
    __table_args__ = (
        UniqueConstraint("account_id", "name", name="uq_ec2_launch_templates_name"),
        UniqueConstraint("account_id", "client_token", name="uq_ec2_launch_templates_token"),
    )

    # lt-<17 hex>
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The ARN of the principal that created it (CreatedBy).
    created_by: Mapped[str] = mapped_column(String(1600))
    default_version: Mapped[int] = mapped_column(Integer, default=1)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    # CreateLaunchTemplate's ClientToken (idempotency), NULL when none was given.
    client_token: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Ec2LaunchTemplateVersion(Base):
    __tablename__ = "ec2_launch_template_versions"
    __table_args__ = (Index("ix_ec2_lt_versions_token", "template_id", "client_token"),)

    template_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ec2_launch_templates.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    # The version's LaunchTemplateData as given (RequestLaunchTemplateData, JSON).
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(1600))
    # CreateLaunchTemplateVersion's ClientToken, NULL when none was given.
    client_token: Mapped[str | None] = mapped_column(String(128), nullable=True)
