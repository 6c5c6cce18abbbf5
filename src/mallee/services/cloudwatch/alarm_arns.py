"""The ARNs of alarms and dashboards, and which of them an operation acts on (what IAM
policies are evaluated against, as AWS's resource-level permissions for CloudWatch)."""

from __future__ import annotations

from mallee.api.context import RequestContext

_ALARM_NAMES = {
    "PutMetricAlarm": "AlarmName",
    "PutCompositeAlarm": "AlarmName",
    "SetAlarmState": "AlarmName",
}
_ALARM_LISTS = ("DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions")
_DASHBOARD_NAMES = ("PutDashboard", "GetDashboard")


def alarm_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"


def dashboard_arn(account_id: str, name: str) -> str:
    # AWS: dashboards are global, their ARNs name no region.
    return f"arn:aws:cloudwatch::{account_id}:dashboard/{name}"


def resources(ctx: RequestContext) -> list[str] | None:
    """ARNs the alarm, tag and dashboard operations act on; None for the others."""
    op, p, account = ctx.operation_name, ctx.params, ctx.principal.account_id
    if op in _ALARM_NAMES:
        return [alarm_arn(ctx.region, account, str(p.get("AlarmName") or ""))]
    if op in _ALARM_LISTS:
        return [alarm_arn(ctx.region, account, str(n)) for n in p.get("AlarmNames") or []] or ["*"]
    if op in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [str(p.get("ResourceARN") or "*")]
    if op in _DASHBOARD_NAMES:
        return [dashboard_arn(account, str(p.get("DashboardName") or ""))]
    if op == "DeleteDashboards":
        return [dashboard_arn(account, str(n)) for n in p.get("DashboardNames") or []] or ["*"]
    return None
