"""PutCompositeAlarm: an alarm whose state is its AlarmRule over other alarms' states
(mallee.metrics.alarm_rule); the controller's engine evaluates it when a child changes."""

from __future__ import annotations

import json
import time
from typing import Any

from mallee.api.context import RequestContext
from mallee.metrics import alarm_rule
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch import alarm_checks, alarm_rows
from mallee.services.cloudwatch.alarms import save
from mallee.services.cloudwatch.errors import validation

_SUPPRESSOR = (
    "ActionsSuppressor",
    "ActionsSuppressorWaitPeriod",
    "ActionsSuppressorExtensionPeriod",
)


def put_composite_alarm(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    for name in (*_SUPPRESSOR, "ActionConfiguration"):
        if params.get(name) is not None:
            raise validation(f"The parameter {name} is not supported by this cloud.")
    account, name = ctx.principal.account_id, str(params["AlarmName"])
    text = str(params["AlarmRule"])
    try:
        rule = alarm_rule.parse(text)
    except alarm_rule.RuleError as err:
        raise validation(f"Error in alarm rule: {err}") from None
    children = alarm_rule.children(rule)
    if len(children) > alarm_rule.MAX_CHILDREN:
        raise validation(f"An alarm rule may refer to at most {alarm_rule.MAX_CHILDREN} alarms.")
    if name in children:
        raise validation("An alarm rule may not refer to the alarm itself.")
    with rt.store.read() as s:
        known = {a.name for a in alarm_rows.by_names(s, account, sorted(children))}
    unknown = sorted(children - known)
    if unknown:
        raise validation(
            "Could not save the composite alarm as alarms "
            f"[{', '.join(unknown)}] in the alarm rule do not exist"
        )
    lists = alarm_checks.actions(params, ctx.region, instance_alarm=False)
    tags = alarm_checks.tags(params.get("Tags"))
    now = time.time()
    config: dict[str, Any] = {
        "description": params.get("AlarmDescription"),
        "actions_enabled": bool(params.get("ActionsEnabled", True)),
        "ok_actions": json.dumps(lists["OKActions"]),
        "alarm_actions": json.dumps(lists["AlarmActions"]),
        "insufficient_data_actions": json.dumps(lists["InsufficientDataActions"]),
        "alarm_rule": text,
        "config_updated_at": now,
        "next_eval_at": 0.0,
    }
    save(rt, account, ctx.region, name, alarm_rows.COMPOSITE, config, tags, now, children)
    return {}


OPERATIONS: Operations = {"PutCompositeAlarm": put_composite_alarm}
