"""CloudWatch alarms (metric and composite), their history, the actions their transitions owe,
their tags, and dashboards.

The api writes an alarm's configuration; the controller's alarm engine (controller/alarms.py)
owns its state. A state change is one transaction: the alarm's new state (a conditional UPDATE
on `state_version`, so an evaluation that raced SetAlarmState loses), its StateUpdate history
item and one `cw_alarm_actions` row per action the new state runs (the outbox). The engine then
claims each pending action row, runs it and marks it done or failed with its Action history
item, each step a conditional UPDATE, so a restart neither repeats nor loses an action.

Times are epoch seconds (floats): the engine compares them on every tick.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mallee.store.db import Base


class CwAlarm(Base):
    __tablename__ = "cw_alarms"
    __table_args__ = (
        UniqueConstraint("account_id", "name", name="uq_cw_alarms_account_name"),
        # DescribeAlarmsForMetric.
        Index("ix_cw_alarms_metric", "account_id", "namespace", "metric_name"),
        # The engine's tick: alarms due for evaluation.
        Index("ix_cw_alarms_due", "next_eval_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    arn: Mapped[str] = mapped_column(String(1024))
    # MetricAlarm | CompositeAlarm
    alarm_type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    actions_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # JSON lists of action ARNs.
    ok_actions: Mapped[str] = mapped_column(Text, default="[]")
    alarm_actions: Mapped[str] = mapped_column(Text, default="[]")
    insufficient_data_actions: Mapped[str] = mapped_column(Text, default="[]")
    # A metric alarm on one metric ("" for metric math and composite alarms).
    namespace: Mapped[str] = mapped_column(String(255), default="")
    metric_name: Mapped[str] = mapped_column(String(255), default="")
    # JSON [[name, value], ...] in the order given.
    dimensions: Mapped[str] = mapped_column(Text, default="[]")
    statistic: Mapped[str] = mapped_column(String(16), default="")
    extended_statistic: Mapped[str] = mapped_column(String(16), default="")
    period: Mapped[int] = mapped_column(Integer, default=0)
    unit: Mapped[str] = mapped_column(String(32), default="")
    evaluation_periods: Mapped[int] = mapped_column(Integer, default=0)
    datapoints_to_alarm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    comparison_operator: Mapped[str] = mapped_column(String(64), default="")
    treat_missing_data: Mapped[str] = mapped_column(String(16), default="")
    evaluate_low_sample_count_percentile: Mapped[str] = mapped_column(String(16), default="")
    # Metric math: the MetricDataQueries as given (JSON), "" for other alarms.
    metrics: Mapped[str] = mapped_column(Text, default="")
    threshold_metric_id: Mapped[str] = mapped_column(String(255), default="")
    # A composite alarm's rule ("" for metric alarms).
    alarm_rule: Mapped[str] = mapped_column(Text, default="")
    # OK | ALARM | INSUFFICIENT_DATA
    state_value: Mapped[str] = mapped_column(String(20), default="INSUFFICIENT_DATA")
    state_reason: Mapped[str] = mapped_column(Text, default="")
    state_reason_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_updated_at: Mapped[float] = mapped_column(Float)
    state_transitioned_at: Mapped[float] = mapped_column(Float)
    config_updated_at: Mapped[float] = mapped_column(Float)
    # Bumped by every state change: the condition of the next one.
    state_version: Mapped[int] = mapped_column(Integer, default=0)
    # When the engine evaluates it next, and when it last did (composites are evaluated when
    # a child changed after that).
    next_eval_at: Mapped[float] = mapped_column(Float, default=0.0)
    evaluated_at: Mapped[float] = mapped_column(Float, default=0.0)


class CwAlarmChild(Base):
    """A composite alarm's rule names these alarms (ChildrenOf/ParentsOfAlarmName)."""

    __tablename__ = "cw_alarm_children"
    __table_args__ = (Index("ix_cw_alarm_children_child", "child_name"),)

    parent_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cw_alarms.id", ondelete="CASCADE"), primary_key=True
    )
    child_name: Mapped[str] = mapped_column(String(255), primary_key=True)


class CwTag(Base):
    """Tags of an alarm or a dashboard, by its ARN (deleted with it)."""

    __tablename__ = "cw_tags"

    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    arn: Mapped[str] = mapped_column(String(1024), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), default="")


class CwAlarmHistory(Base):
    """DescribeAlarmHistory's items; kept two weeks, also after the alarm is deleted (AWS)."""

    __tablename__ = "cw_alarm_history"
    __table_args__ = (
        Index("ix_cw_alarm_history_account_time", "account_id", "timestamp"),
        Index("ix_cw_alarm_history_alarm_time", "account_id", "alarm_name", "timestamp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    alarm_name: Mapped[str] = mapped_column(String(255))
    alarm_type: Mapped[str] = mapped_column(String(16))
    timestamp: Mapped[float] = mapped_column(Float)
    # ConfigurationUpdate | StateUpdate | Action
    item_type: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)


class CwAlarmAction(Base):
    """The outbox: one action a transition owes, run by the engine exactly once."""

    __tablename__ = "cw_alarm_actions"
    __table_args__ = (Index("ix_cw_alarm_actions_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE")
    )
    alarm_name: Mapped[str] = mapped_column(String(255))
    alarm_type: Mapped[str] = mapped_column(String(16))
    # The alarm's InstanceId dimension when it has one (the EC2 actions' instance).
    instance_id: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(1024))
    # The state whose actions these are, and when the alarm entered it.
    new_state: Mapped[str] = mapped_column(String(20))
    transitioned_at: Mapped[float] = mapped_column(Float)
    # pending -> running (claimed by `runner`) -> done | failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    runner: Mapped[str] = mapped_column(String(64), default="")
    claimed_at: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[str] = mapped_column(Text, default="")


class CwDashboard(Base):
    __tablename__ = "cw_dashboards"

    account_id: Mapped[str] = mapped_column(
        String(12), ForeignKey("iam_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float)
