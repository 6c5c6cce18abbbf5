"""Creating a metric alarm: the form (its instance chosen among the account's, or given by the
instance's Monitoring tab) and PutMetricAlarm, with an EC2 action (stop, terminate or reboot
the alarm's instance: `arn:aws:automate:<region>:ec2:<verb>`) when one is chosen. A refusal
shows the form again as it was filled, with the API's words."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from starlette.responses import Response

from mallee.console.context import SESSION_ENDED, BadRequest, Ctx, Route, api_error
from mallee.console.pages.alarms import COMPARISONS, detail_path
from mallee.console.pages.common import instances, tag

METRICS = (
    "CPUUtilization",
    "NetworkIn",
    "NetworkOut",
    "NetworkPacketsIn",
    "NetworkPacketsOut",
    "DiskReadBytes",
    "DiskWriteBytes",
    "DiskReadOps",
    "DiskWriteOps",
    "StatusCheckFailed",
    "StatusCheckFailed_Instance",
    "StatusCheckFailed_System",
)
STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
PERIODS = (("60", "1 minute"), ("300", "5 minutes"), ("900", "15 minutes"), ("3600", "1 hour"))
EC2_ACTIONS = (
    ("", "no action"),
    ("stop", "stop"),
    ("terminate", "terminate"),
    ("reboot", "reboot"),
)
MISSING = (
    ("missing", "missing (keep the state)"),
    ("notBreaching", "not breaching"),
    ("breaching", "breaching"),
    ("ignore", "ignore"),
)
DEFAULTS = {
    "namespace": "AWS/EC2",
    "metric": "CPUUtilization",
    "statistic": "Average",
    "period": "300",
    "evaluation_periods": "1",
    "comparison": "GreaterThanThreshold",
    "threshold": "80",
    "missing": "missing",
}


def _whole(ctx: Ctx, name: str, label: str, default: str = "") -> int:
    text = ctx.arg(name) or default
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{label} must be a whole number") from None


def params_from(ctx: Ctx) -> dict[str, Any]:
    """PutMetricAlarm's parameters from the form."""
    name = ctx.form.get("name", "").strip()
    if not name:
        raise BadRequest("give the alarm a name")
    try:
        threshold = float(ctx.arg("threshold"))
    except ValueError:
        raise BadRequest("the threshold must be a number") from None
    params: dict[str, Any] = {
        "AlarmName": name,
        "Namespace": ctx.arg("namespace") or DEFAULTS["namespace"],
        "MetricName": ctx.arg("metric"),
        "Statistic": ctx.arg("statistic") or DEFAULTS["statistic"],
        "Period": _whole(ctx, "period", "the period", DEFAULTS["period"]),
        "EvaluationPeriods": _whole(ctx, "evaluation_periods", "the evaluation periods", "1"),
        "ComparisonOperator": ctx.arg("comparison"),
        "Threshold": threshold,
        "TreatMissingData": ctx.arg("missing") or DEFAULTS["missing"],
        "ActionsEnabled": True,
    }
    if ctx.arg("datapoints"):
        params["DatapointsToAlarm"] = _whole(ctx, "datapoints", "the datapoints to alarm")
    description = ctx.form.get("description", "").strip()
    if description:
        params["AlarmDescription"] = description
    instance = ctx.arg("instance")
    if instance:
        params["Dimensions"] = [{"Name": "InstanceId", "Value": instance}]
    verb = ctx.arg("action")
    if verb:
        if verb not in {v for v, _ in EC2_ACTIONS}:
            raise BadRequest("unknown EC2 action")
        if not instance:
            raise BadRequest(f"an alarm that would {verb} an instance needs its InstanceId")
        params["AlarmActions"] = [f"arn:aws:automate:{ctx.cloud.region}:ec2:{verb}"]
    return params


def _form_page(ctx: Ctx, values: dict[str, str], error: str = "", status: int = 200) -> Response:
    choices = [("", "(no dimension)")]
    for i in instances(ctx.client("ec2")):
        if i.get("State", {}).get("Name") == "terminated":
            continue
        label = f"{i['InstanceId']} {tag(i, 'Name')}".strip()
        choices.append((str(i["InstanceId"]), label))
    wanted = values.get("instance", "")
    if wanted and wanted not in {c for c, _ in choices}:
        choices.append((wanted, wanted))
    return ctx.page(
        "alarm_create.html",
        "Create an alarm",
        status=status,
        v={**DEFAULTS, **values},
        error=error,
        instances=choices,
        metrics=METRICS,
        statistics=[(s, s) for s in STATISTICS],
        periods=PERIODS,
        comparisons=list(COMPARISONS.items())[:4],
        actions=EC2_ACTIONS,
        missing=MISSING,
    )


def create_page(ctx: Ctx) -> Response:
    return _form_page(ctx, {"instance": ctx.arg("instance")})


def create(ctx: Ctx) -> Response:
    values = {k: v for k, v in ctx.form.items() if k != "_csrf"}
    try:
        params = params_from(ctx)
        ctx.client("cloudwatch").put_metric_alarm(**params)
    except ClientError as failed:
        if failed.response.get("Error", {}).get("Code") in SESSION_ENDED:
            raise
        return _form_page(ctx, values, api_error(failed), 400)
    except BadRequest as failed:
        return _form_page(ctx, values, str(failed), 400)
    ctx.ok(f"Created alarm {params['AlarmName']}")
    return ctx.back(detail_path(params["AlarmName"]))


ROUTES = [
    Route("GET", "/alarms/create", create_page, "/alarms"),
    Route("POST", "/alarms/create", create, "/alarms"),
]
