"""Auto Scaling: the table of its operations, one module per family, and the ARNs each is
authorized on. ExecutePolicyForAlarm is the CloudWatch alarm engine's own way to ExecutePolicy
(internal only, authorized as autoscaling:ExecutePolicy)."""

from __future__ import annotations

from typing import ClassVar

from mallee.api.context import RequestContext
from mallee.services.autoscaling import (
    activities,
    authz,
    describe_types,
    execute,
    groups,
    instances,
    launch_configurations,
    load_balancers,
    policies,
    processes,
    scaling,
    scheduled_actions,
    tags,
)
from mallee.services.base import Operations, Provider, operations_of

_TABLES: tuple[Operations, ...] = (
    launch_configurations.OPERATIONS,
    groups.OPERATIONS,
    scaling.OPERATIONS,
    instances.OPERATIONS,
    load_balancers.OPERATIONS,
    policies.OPERATIONS,
    execute.OPERATIONS,
    processes.OPERATIONS,
    scheduled_actions.OPERATIONS,
    tags.OPERATIONS,
    activities.OPERATIONS,
    describe_types.OPERATIONS,
)


class AutoScalingProvider(Provider):
    service: ClassVar[str] = "autoscaling"
    action_prefix: ClassVar[str] = "autoscaling"
    operations: ClassVar[Operations] = operations_of(*_TABLES)
    internal_operations: ClassVar[frozenset[str]] = frozenset({"ExecutePolicyForAlarm"})

    def action_name(self, ctx: RequestContext) -> str:
        if ctx.operation_name == "ExecutePolicyForAlarm":
            return "ExecutePolicy"
        return ctx.operation_name

    def resources(self, ctx: RequestContext) -> list[str]:
        return authz.resources(self.store, ctx)
