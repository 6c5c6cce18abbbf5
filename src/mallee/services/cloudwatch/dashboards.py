"""Dashboards: PutDashboard (the body checked as AWS checks it), GetDashboard,
ListDashboards and DeleteDashboards. The console draws them."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from sqlalchemy import delete, select

from mallee.api.context import RequestContext
from mallee.services import page_tokens
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.cloudwatch import alarm_checks
from mallee.services.cloudwatch.alarm_arns import dashboard_arn
from mallee.services.cloudwatch.alarm_errors import dashboard_invalid, dashboard_not_found
from mallee.services.cloudwatch.errors import invalid_token, invalid_value
from mallee.store.tables.alarms import CwDashboard, CwTag

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
WIDGET_TYPES = ("metric", "text", "log", "alarm", "explorer", "custom")
MAX_BODY = 1_048_576
PAGE = 1000


def _name(raw: Any) -> str:
    name = str(raw)
    if not _NAME.match(name):
        raise invalid_value(
            "The value for field DashboardName contains invalid characters. It can only "
            "contain alphanumerics, dash (-) and underscore (_)."
        )
    return name


def body_messages(text: str) -> list[dict[str, str]]:
    """The body's faults as AWS's DashboardValidationMessages (DataPath, Message)."""
    if len(text.encode("utf-8")) > MAX_BODY:
        return [{"DataPath": "", "Message": "The dashboard body is larger than 1 MB"}]
    try:
        body = json.loads(text)
    except ValueError:
        return [{"DataPath": "", "Message": "The field DashboardBody must be a valid JSON object"}]
    if not isinstance(body, dict):
        return [{"DataPath": "", "Message": "The field DashboardBody must be a valid JSON object"}]
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        return [{"DataPath": "/widgets", "Message": "Should be array"}]
    out: list[dict[str, str]] = []
    for i, w in enumerate(widgets):
        path = f"/widgets/{i}"
        if not isinstance(w, dict):
            out.append({"DataPath": path, "Message": "Should be object"})
            continue
        kind = w.get("type")
        if kind not in WIDGET_TYPES:
            out.append(
                {
                    "DataPath": f"{path}/type",
                    "Message": f"Should be equal to one of the allowed values {list(WIDGET_TYPES)}",
                }
            )
        props = w.get("properties")
        if not isinstance(props, dict):
            out.append({"DataPath": path, "Message": "Should have required property 'properties'"})
            continue
        if kind == "text" and not isinstance(props.get("markdown"), str):
            out.append(
                {
                    "DataPath": f"{path}/properties",
                    "Message": "Should have required property 'markdown'",
                }
            )
        if kind == "metric" and "metrics" in props and not isinstance(props["metrics"], list):
            out.append({"DataPath": f"{path}/properties/metrics", "Message": "Should be array"})
        for key in ("x", "y", "width", "height"):
            if key in w and not isinstance(w[key], int):
                out.append({"DataPath": f"{path}/{key}", "Message": "Should be integer"})
    return out


def put_dashboard(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = _name(params["DashboardName"])
    text = str(params["DashboardBody"])
    messages = body_messages(text)
    if messages:
        raise dashboard_invalid(messages)
    tags = alarm_checks.tags(params.get("Tags"))
    account = ctx.principal.account_id
    with rt.store.session() as s:
        found = s.get(CwDashboard, (account, name))
        if found is None:
            s.add(CwDashboard(account_id=account, name=name, body=text, updated_at=time.time()))
            arn = dashboard_arn(account, name)
            for key, value in tags:
                s.add(CwTag(account_id=account, arn=arn, key=key, value=value))
        else:
            found.body = text
            found.updated_at = time.time()
    return {"DashboardValidationMessages": []}


def get_dashboard(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    name = str(params["DashboardName"])
    account = ctx.principal.account_id
    with rt.store.read() as s:
        found = s.get(CwDashboard, (account, name))
    if found is None:
        raise dashboard_not_found(f"Dashboard {name} does not exist")
    return {
        "DashboardArn": dashboard_arn(account, name),
        "DashboardBody": found.body,
        "DashboardName": name,
    }


def list_dashboards(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    where: list[Any] = [CwDashboard.account_id == account]
    prefix = params.get("DashboardNamePrefix")
    if prefix:
        where.append(CwDashboard.name.startswith(str(prefix), autoescape=True))
    token = params.get("NextToken")
    if token:
        after = page_tokens.decode(str(token))
        if after is None:
            raise invalid_token("The service cannot decode the NextToken.")
        where.append(CwDashboard.name > after)
    with rt.store.read() as s:
        rows = list(
            s.scalars(select(CwDashboard).where(*where).order_by(CwDashboard.name).limit(PAGE + 1))
        )
    page = rows[:PAGE]
    out: Result = {
        "DashboardEntries": [
            {
                "DashboardName": d.name,
                "DashboardArn": dashboard_arn(account, d.name),
                "LastModified": d.updated_at,
                "Size": len(d.body.encode("utf-8")),
            }
            for d in page
        ]
    }
    if len(rows) > PAGE:
        out["NextToken"] = page_tokens.encode(page[-1].name)
    return out


def delete_dashboards(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    names = list(dict.fromkeys(str(n) for n in params.get("DashboardNames") or []))
    with rt.store.session() as s:
        found = set(
            s.scalars(
                select(CwDashboard.name).where(
                    CwDashboard.account_id == account, CwDashboard.name.in_(names)
                )
            )
        )
        missing = [n for n in names if n not in found]
        if missing:
            # AWS deletes none when one does not exist.
            raise dashboard_not_found(f"Dashboard {missing[0]} does not exist")
        s.execute(
            delete(CwDashboard).where(
                CwDashboard.account_id == account, CwDashboard.name.in_(names)
            )
        )
        s.execute(delete(CwTag).where(CwTag.arn.in_([dashboard_arn(account, n) for n in names])))
    return {}


OPERATIONS: Operations = {
    "PutDashboard": put_dashboard,
    "GetDashboard": get_dashboard,
    "ListDashboards": list_dashboards,
    "DeleteDashboards": delete_dashboards,
}
