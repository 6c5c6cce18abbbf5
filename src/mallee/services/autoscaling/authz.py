"""The ARNs each operation is authorized on: the group it names (by name, by an instance of
it, by a policy ARN, by tags' ResourceIds), or the launch configuration; "*" for what names
neither (the Describe* of a whole account, the static answers)."""

from __future__ import annotations

from sqlalchemy import select

from mallee.api.context import RequestContext
from mallee.services.autoscaling import arns
from mallee.store import Store
from mallee.store.tables.autoscaling import AsGroup, AsInstance, AsLaunchConfiguration

# A group or configuration that does not exist has no id: its ARN carries this one, which an
# ARN pattern of the name (autoScalingGroup:*:autoScalingGroupName/web) still matches.
NO_ID = "00000000-0000-0000-0000-000000000000"
_INSTANCE_OPS = frozenset({"SetInstanceHealth", "TerminateInstanceInAutoScalingGroup"})
_TAG_OPS = frozenset({"CreateOrUpdateTags", "DeleteTags"})


def _groups(store: Store, ctx: RequestContext, names: list[str]) -> list[str]:
    account = ctx.principal.account_id
    with store.read() as s:
        found = s.execute(
            select(AsGroup.name, AsGroup.id).where(
                AsGroup.account_id == account, AsGroup.name.in_(names)
            )
        ).all()
    ids = {name: group_id for name, group_id in found}
    return [arns.group_arn(ctx.region, account, ids.get(n, NO_ID), n) for n in names]


def _instance_groups(store: Store, ctx: RequestContext, instance_id: str) -> list[str]:
    with store.read() as s:
        found = s.execute(
            select(AsGroup.name)
            .join(AsInstance, AsInstance.group_id == AsGroup.id)
            .where(
                AsInstance.instance_id == instance_id,
                AsInstance.account_id == ctx.principal.account_id,
            )
        ).first()
    return _groups(store, ctx, [found[0]]) if found else ["*"]


def _launch_configuration(store: Store, ctx: RequestContext, name: str) -> list[str]:
    account = ctx.principal.account_id
    with store.read() as s:
        lc_id = s.scalar(
            select(AsLaunchConfiguration.id).where(
                AsLaunchConfiguration.account_id == account, AsLaunchConfiguration.name == name
            )
        )
    return [arns.lc_arn(ctx.region, account, lc_id or NO_ID, name)]


def resources(store: Store, ctx: RequestContext) -> list[str]:
    op, params = ctx.operation_name, ctx.params
    if op.startswith("Describe"):
        return ["*"]
    if op in _INSTANCE_OPS:
        return _instance_groups(store, ctx, str(params.get("InstanceId") or ""))
    if op in _TAG_OPS:
        names = [str(t.get("ResourceId") or "") for t in params.get("Tags") or []]
        return _groups(store, ctx, list(dict.fromkeys(names))) or ["*"]
    group = params.get("AutoScalingGroupName")
    if not group and isinstance(params.get("PolicyName"), str):
        ref = arns.parse_policy_arn(params["PolicyName"])
        group = ref.group if ref is not None else None
    if group:
        return _groups(store, ctx, [str(group)])
    if params.get("LaunchConfigurationName") and "LaunchConfiguration" in op:
        return _launch_configuration(store, ctx, str(params["LaunchConfigurationName"]))
    return ["*"]
