"""Auto Scaling: launch configurations, groups, their instances, policies, scheduled actions,
tags and scaling activities.

Who moves what:
- the api (services/autoscaling) writes launch configurations, groups, policies, scheduled
  actions and tags, and moves a group's capacity (Create/UpdateAutoScalingGroup,
  SetDesiredCapacity, ExecutePolicy), recording why in `capacity_cause` so the activities the
  change leads to carry AWS's cause text;
- the controller's group engine (controller/autoscaling*.py) keeps each group at its desired
  capacity: it writes an activity row before it acts and launches with the activity's id as
  RunInstances' ClientToken, so a restart repeats a launch without duplicating it; it records
  the group's instances and their lifecycle, replaces the unhealthy ones, registers them with
  the group's load balancers and runs the scheduled actions when they are due.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base

_GROUP = "as_groups.id"
_CASCADE = "CASCADE"
_ACCOUNT = "iam_accounts.id"


class AsLaunchConfiguration(Base):
    __tablename__ = "as_launch_configurations"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_as_lc_account_name"),)

    # A uuid: part of the ARN (launchConfiguration:<id>:launchConfigurationName/<name>).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    image_id: Mapped[str] = mapped_column(String(32))
    instance_type: Mapped[str] = mapped_column(String(32))
    key_name: Mapped[str] = mapped_column(String(255), default="")
    # JSON list of group names or ids, as given.
    security_groups: Mapped[str] = mapped_column(Text, default="[]")
    # Base64, as given (RunInstances' UserData).
    user_data: Mapped[str] = mapped_column(Text, default="")
    kernel_id: Mapped[str] = mapped_column(String(32), default="")
    ramdisk_id: Mapped[str] = mapped_column(String(32), default="")
    # JSON list of Auto Scaling BlockDeviceMapping structures.
    block_device_mappings: Mapped[str] = mapped_column(Text, default="[]")
    # Detailed monitoring (InstanceMonitoring.Enabled; AWS's default is true).
    instance_monitoring: Mapped[bool] = mapped_column(Boolean, default=True)
    iam_instance_profile: Mapped[str] = mapped_column(String(1600), default="")
    ebs_optimized: Mapped[bool] = mapped_column(Boolean, default=False)
    associate_public_ip: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    placement_tenancy: Mapped[str] = mapped_column(String(64), default="")


class AsGroup(Base):
    __tablename__ = "as_groups"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_as_group_account_name"),)

    # A uuid: part of the ARN (autoScalingGroup:<id>:autoScalingGroupName/<name>).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), ForeignKey(_ACCOUNT, ondelete=_CASCADE))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # One of: a launch configuration's name, or a launch template (JSON
    # {"LaunchTemplateId", "LaunchTemplateName", "Version"}).
    launch_configuration_name: Mapped[str] = mapped_column(String(255), default="")
    launch_template: Mapped[str] = mapped_column(Text, default="")
    min_size: Mapped[int] = mapped_column(Integer)
    max_size: Mapped[int] = mapped_column(Integer)
    desired_capacity: Mapped[int] = mapped_column(Integer)
    default_cooldown: Mapped[int] = mapped_column(Integer, default=300)
    # JSON lists.
    availability_zones: Mapped[str] = mapped_column(Text, default="[]")
    load_balancer_names: Mapped[str] = mapped_column(Text, default="[]")
    termination_policies: Mapped[str] = mapped_column(Text, default='["Default"]')
    # Comma-separated subnet ids, as AWS keeps VPCZoneIdentifier.
    vpc_zone_identifier: Mapped[str] = mapped_column(Text, default="")
    # EC2 | ELB
    health_check_type: Mapped[str] = mapped_column(String(8), default="EC2")
    health_check_grace_period: Mapped[int] = mapped_column(Integer, default=0)
    new_instances_protected: Mapped[bool] = mapped_column(Boolean, default=False)
    # JSON list of [process name, reason] (SuspendProcesses).
    suspended_processes: Mapped[str] = mapped_column(Text, default="[]")
    # JSON list of metric names (EnableMetricsCollection); granularity "1Minute".
    enabled_metrics: Mapped[str] = mapped_column(Text, default="[]")
    metrics_granularity: Mapped[str] = mapped_column(String(16), default="")
    # "" or "Delete in progress" (DeleteAutoScalingGroup; the engine deletes the row once the
    # group's instances are gone).
    status: Mapped[str] = mapped_column(String(32), default="")
    # Why the capacity last changed (AWS's cause text, the start of the activities' Cause);
    # set with desired_capacity by whoever moves it.
    capacity_cause: Mapped[str] = mapped_column(Text, default="")
    # Epoch seconds when the last scaling activity of the group ended (the cooldown's start).
    cooldown_until: Mapped[float] = mapped_column(Float, default=0.0)
    # The start of the last minute whose AWS/AutoScaling metrics the engine published (moved
    # in the transaction that stores them, so a restart never publishes a minute twice).
    metrics_minute: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class AsInstance(Base):
    """An instance of a group, from the activity that launched or attached it."""

    __tablename__ = "as_instances"
    __table_args__ = (Index("ix_as_instances_group", "group_id"),)

    instance_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(36), ForeignKey(_GROUP, ondelete=_CASCADE))
    account_id: Mapped[str] = mapped_column(String(12))
    zone: Mapped[str] = mapped_column(String(255))
    # Pending | InService | Terminating | Terminated | Detaching | Detached | Standby ...
    lifecycle_state: Mapped[str] = mapped_column(String(32), default="Pending")
    # Healthy | Unhealthy
    health_status: Mapped[str] = mapped_column(String(16), default="Healthy")
    launch_configuration_name: Mapped[str] = mapped_column(String(255), default="")
    launch_template: Mapped[str] = mapped_column(Text, default="")
    instance_type: Mapped[str] = mapped_column(String(32), default="")
    protected_from_scale_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # Epoch seconds: when the group launched (or attached) it (grace period, ordering).
    launched_at: Mapped[float] = mapped_column(Float)
    # Registered with the group's load balancers (JSON list of names done).
    registered_lbs: Mapped[str] = mapped_column(Text, default="[]")


class AsActivity(Base):
    """A scaling activity (DescribeScalingActivities), written before the engine acts."""

    __tablename__ = "as_activities"
    __table_args__ = (
        Index("ix_as_activities_group_time", "account_id", "group_name", "start_time"),
        Index("ix_as_activities_open", "status_code"),
    )

    # A uuid: RunInstances' ClientToken for a launch.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    # Not a foreign key: a group's activities are described until the group is deleted.
    group_id: Mapped[str] = mapped_column(String(36))
    group_name: Mapped[str] = mapped_column(String(255))
    # launch | terminate | capacity (a change of the group's sizes only) | attach | detach
    kind: Mapped[str] = mapped_column(String(16))
    instance_id: Mapped[str] = mapped_column(String(32), default="")
    zone: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(Text)
    # JSON object (Details).
    details: Mapped[str] = mapped_column(Text, default="{}")
    # PreInService | InProgress | Successful | Failed | Cancelled ...
    status_code: Mapped[str] = mapped_column(String(32), default="InProgress")
    status_message: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float | None] = mapped_column(Float, nullable=True)


class AsPolicy(Base):
    __tablename__ = "as_policies"
    __table_args__ = (UniqueConstraint("group_id", "name", name="uq_as_policy_group_name"),)

    # A uuid: part of the ARN (scalingPolicy:<id>:autoScalingGroupName/<g>:policyName/<p>).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    group_id: Mapped[str] = mapped_column(String(36), ForeignKey(_GROUP, ondelete=_CASCADE))
    name: Mapped[str] = mapped_column(String(255))
    # SimpleScaling | StepScaling | TargetTrackingScaling
    policy_type: Mapped[str] = mapped_column(String(32), default="SimpleScaling")
    # ChangeInCapacity | ExactCapacity | PercentChangeInCapacity ("" for target tracking)
    adjustment_type: Mapped[str] = mapped_column(String(32), default="")
    scaling_adjustment: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_adjustment_magnitude: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cooldown: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metric_aggregation_type: Mapped[str] = mapped_column(String(16), default="")
    estimated_instance_warmup: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # JSON list of StepAdjustment structures.
    step_adjustments: Mapped[str] = mapped_column(Text, default="[]")
    # JSON TargetTrackingConfiguration ("" unless target tracking).
    target_tracking: Mapped[str] = mapped_column(Text, default="")
    # JSON list of the alarm names the policy made (target tracking) or that act on it.
    alarm_names: Mapped[str] = mapped_column(Text, default="[]")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class AsScheduledAction(Base):
    __tablename__ = "as_scheduled_actions"
    __table_args__ = (
        UniqueConstraint("group_id", "name", name="uq_as_scheduled_group_name"),
        Index("ix_as_scheduled_next", "next_run_at"),
    )

    # A uuid: part of the ARN (scheduledUpdateGroupAction:<id>:...).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    group_id: Mapped[str] = mapped_column(String(36), ForeignKey(_GROUP, ondelete=_CASCADE))
    name: Mapped[str] = mapped_column(String(255))
    # Epoch seconds (None: not given).
    start_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Cron (minute hour day-of-month month day-of-week), in `time_zone` (IANA; "" = UTC).
    recurrence: Mapped[str] = mapped_column(String(255), default="")
    time_zone: Mapped[str] = mapped_column(String(255), default="")
    min_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    desired_capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When the engine runs it next (None: never again; a one-time action is then deleted).
    next_run_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class AsTag(Base):
    __tablename__ = "as_tags"

    group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(_GROUP, ondelete=_CASCADE), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), default="")
    propagate_at_launch: Mapped[bool] = mapped_column(Boolean, default=False)
