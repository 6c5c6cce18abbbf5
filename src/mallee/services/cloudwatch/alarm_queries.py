"""DescribeAlarms and DescribeAlarmHistory: filters and paging."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select

from mallee.api.context import RequestContext
from mallee.services import page_tokens
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch import alarm_rows, fields
from mallee.services.cloudwatch.errors import invalid_combination, invalid_token, invalid_value
from mallee.store.tables.alarms import CwAlarm, CwAlarmChild, CwAlarmHistory

ALARM_TYPES = (alarm_rows.METRIC, alarm_rows.COMPOSITE)


def _page_size(params: Params, default: int) -> int:
    size = int(params.get("MaxRecords") or default)
    if not 1 <= size <= 100:
        raise invalid_value("The parameter MaxRecords must be between 1 and 100.")
    return size


def _after(params: Params) -> str | None:
    token = params.get("NextToken")
    if not token:
        return None
    key = page_tokens.decode(str(token))
    if key is None:
        raise invalid_token("The service cannot decode the NextToken.")
    return key


def _types(params: Params) -> list[str]:
    types = [str(t) for t in params.get("AlarmTypes") or []]
    for t in types:
        if t not in ALARM_TYPES:
            raise invalid_value(f"The value {t} for parameter AlarmTypes is not supported.")
    # AWS: without AlarmTypes, only metric alarms.
    return types or [alarm_rows.METRIC]


def _family(params: Params, account: str) -> Any | None:
    """The condition of ChildrenOfAlarmName / ParentsOfAlarmName, None without them."""
    children_of, parents_of = params.get("ChildrenOfAlarmName"), params.get("ParentsOfAlarmName")
    if children_of is None and parents_of is None:
        return None
    others = ("AlarmNames", "AlarmNamePrefix", "StateValue", "ActionPrefix")
    if (children_of is not None and parents_of is not None) or any(params.get(o) for o in others):
        raise invalid_combination(
            "ChildrenOfAlarmName and ParentsOfAlarmName may not be combined with each other "
            "or with AlarmNames, AlarmNamePrefix, StateValue or ActionPrefix."
        )
    if children_of is not None:
        parent = (
            select(CwAlarmChild.child_name)
            .join(CwAlarm, CwAlarm.id == CwAlarmChild.parent_id)
            .where(CwAlarm.account_id == account, CwAlarm.name == str(children_of))
        )
        return CwAlarm.name.in_(parent)
    return CwAlarm.id.in_(
        select(CwAlarmChild.parent_id).where(CwAlarmChild.child_name == str(parents_of))
    )


def describe_alarms(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    names = [str(n) for n in params.get("AlarmNames") or []]
    prefix = params.get("AlarmNamePrefix")
    if names and prefix:
        raise invalid_combination(
            "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have "
            "specified both."
        )
    size = _page_size(params, 50)
    after = _after(params)
    family = _family(params, account)
    where: list[Any] = [CwAlarm.account_id == account]
    if family is not None:
        where.append(family)
        # The family of an alarm is of either type whatever AlarmTypes says.
        if params.get("AlarmTypes"):
            where.append(CwAlarm.alarm_type.in_(_types(params)))
    else:
        where.append(CwAlarm.alarm_type.in_(_types(params)))
    if names:
        where.append(CwAlarm.name.in_(names))
    if prefix:
        where.append(CwAlarm.name.startswith(str(prefix), autoescape=True))
    if params.get("StateValue"):
        where.append(CwAlarm.state_value == str(params["StateValue"]))
    if after is not None:
        where.append(CwAlarm.name > after)
    action_prefix = params.get("ActionPrefix")
    with rt.store.read() as s:
        query = select(CwAlarm).where(*where).order_by(CwAlarm.name)
        if not action_prefix:
            query = query.limit(size + 1)
        rows = list(s.scalars(query))
    if action_prefix:
        rows = [a for a in rows if _has_action(a, str(action_prefix))][: size + 1]
    page, more = rows[:size], len(rows) > size
    out: Result = {
        "MetricAlarms": [alarm_rows.metric_alarm(a) for a in page if a.alarm_type == "MetricAlarm"],
        "CompositeAlarms": [
            alarm_rows.composite_alarm(a) for a in page if a.alarm_type == "CompositeAlarm"
        ],
    }
    if more:
        out["NextToken"] = page_tokens.encode(page[-1].name)
    return out


def _has_action(a: CwAlarm, prefix: str) -> bool:
    shown = alarm_rows.shown(a)
    return any(
        arn.startswith(prefix)
        for key in ("OKActions", "AlarmActions", "InsufficientDataActions")
        for arn in shown[key]
    )


def describe_alarm_history(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    size = _page_size(params, 100)
    after = _after(params)
    ascending = params.get("ScanBy") == "TimestampAscending"
    h = CwAlarmHistory
    where: list[Any] = [h.account_id == ctx.principal.account_id, h.alarm_type.in_(_types(params))]
    if params.get("AlarmName"):
        where.append(h.alarm_name == str(params["AlarmName"]))
    if params.get("HistoryItemType"):
        where.append(h.item_type == str(params["HistoryItemType"]))
    if params.get("StartDate") is not None:
        where.append(h.timestamp >= fields.epoch(params["StartDate"]))
    if params.get("EndDate") is not None:
        where.append(h.timestamp <= fields.epoch(params["EndDate"]))
    if after is not None:
        try:
            ts_text, id_text = after.split("|", 1)
            ts, last = float(ts_text), int(id_text)
        except ValueError:
            raise invalid_token("The service cannot decode the NextToken.") from None
        if ascending:
            where.append(or_(h.timestamp > ts, and_(h.timestamp == ts, h.id > last)))
        else:
            where.append(or_(h.timestamp < ts, and_(h.timestamp == ts, h.id < last)))
    order = (h.timestamp.asc(), h.id.asc()) if ascending else (h.timestamp.desc(), h.id.desc())
    with rt.store.read() as s:
        rows = list(s.scalars(select(h).where(*where).order_by(*order).limit(size + 1)))
    page = rows[:size]
    out: Result = {
        "AlarmHistoryItems": [
            {
                "AlarmName": r.alarm_name,
                "AlarmType": r.alarm_type,
                "Timestamp": r.timestamp,
                "HistoryItemType": r.item_type,
                "HistorySummary": r.summary,
                "HistoryData": r.data,
            }
            for r in page
        ]
    }
    if len(rows) > size:
        out["NextToken"] = page_tokens.encode(f"{page[-1].timestamp!r}|{page[-1].id}")
    return out


OPERATIONS: Operations = {
    "DescribeAlarms": describe_alarms,
    "DescribeAlarmHistory": describe_alarm_history,
}
