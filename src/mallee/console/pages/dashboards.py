"""Dashboards: the list, a dashboard drawn (dashboard_widgets.py: a graph per metric widget
over a chosen range, text widgets as text), its body created or edited as JSON (PutDashboard's
refusal shown as "Code: message" with its DashboardValidationMessages, the body kept as typed),
and deleting one after asking."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError
from starlette.responses import Response

from mallee.console.context import SESSION_ENDED, BadRequest, Ctx, Route, api_error
from mallee.console.pages import metric_graphs as mg
from mallee.console.pages.common import paged
from mallee.console.pages.dashboard_widgets import widgets
from mallee.console.pages.listing import Column, listing, local_filters, local_page

COLUMNS = (
    Column("name", "Name"),
    Column("modified", "Last modified"),
    Column("size", "Size (bytes)"),
)
# A new dashboard's body: one graph and a note, to be edited.
STARTER = json.dumps(
    {
        "widgets": [
            {
                "type": "text",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 2,
                "properties": {"markdown": "Instances of this dashboard"},
            },
            {
                "type": "metric",
                "x": 0,
                "y": 2,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": "CPU utilization",
                    "metrics": [["AWS/EC2", "CPUUtilization", "InstanceId", "i-00000000"]],
                    "stat": "Average",
                    "period": 300,
                },
            },
        ]
    },
    indent=2,
)


def view_path(name: str) -> str:
    return "/dashboards/view?" + urlencode({"name": name})


def dashboards(ctx: Ctx) -> Response:
    lst = listing(ctx, "/dashboards", COLUMNS, local_filters(COLUMNS), default_sort="name")
    rows = [
        {
            "name": d.get("DashboardName", ""),
            "modified": mg.shown_time(d.get("LastModified")),
            "size": d.get("Size", 0),
        }
        for d in paged(ctx.client("cloudwatch"), "list_dashboards", "DashboardEntries")
    ]
    return ctx.page("dashboards.html", "Dashboards", lst=local_page(lst, rows))


def _body(ctx: Ctx, name: str) -> str:
    return str(ctx.client("cloudwatch").get_dashboard(DashboardName=name).get("DashboardBody", ""))


def view(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        raise BadRequest("which dashboard?")
    shown = widgets(_body(ctx, name))
    cloudwatch = ctx.client("cloudwatch")
    span = mg.window(ctx.arg("range"))
    drawn: list[tuple[Any, Any]] = []
    by_period: dict[int, list[Any]] = {}
    for w in shown:
        if w.graph is not None:
            by_period.setdefault(w.period, []).append(w)
    spans = {}
    for period, group in by_period.items():
        spans[period] = mg.window(span.key, period)
        mg.fetch(cloudwatch, [w.graph for w in group], spans[period])
    for w in shown:
        svg = mg.draw(w.graph, spans[w.period]) if w.graph is not None else None
        drawn.append((w, svg))
    return ctx.page(
        "dashboard_view.html",
        f"Dashboard {name}",
        name=name,
        drawn=drawn,
        ranges=mg.range_links(span.key),
        here=view_path(name),
    )


def _edit_page(
    ctx: Ctx, name: str, body: str, *, new: bool, errors: list[str] | None = None, status: int = 200
) -> Response:
    return ctx.page(
        "dashboard_edit.html",
        "Create a dashboard" if new else f"Edit dashboard {name}",
        name=name,
        body=body,
        new=new,
        problems=errors or [],
        status=status,
    )


def edit_page(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    if not name:
        return _edit_page(ctx, "", STARTER, new=True)
    return _edit_page(ctx, name, _body(ctx, name), new=False)


def validation_messages(answer: dict[str, Any]) -> list[str]:
    """DashboardValidationMessages (a PutDashboard answer's, or its refusal's) as text."""
    found = answer.get("DashboardValidationMessages") or answer.get("dashboardValidationMessages")
    return [
        f"{m.get('DataPath') or '/'}: {m.get('Message', '')}"
        for m in found or []
        if isinstance(m, dict)
    ]


def save(ctx: Ctx) -> Response:
    name = ctx.form.get("name", "").strip()
    body = ctx.form.get("body", "")
    new = ctx.form.get("new") == "yes"
    if not name:
        return _edit_page(
            ctx, name, body, new=new, errors=["give the dashboard a name"], status=400
        )
    try:
        answer = ctx.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
    except ClientError as failed:
        if failed.response.get("Error", {}).get("Code") in SESSION_ENDED:
            raise
        errors = [api_error(failed), *validation_messages(dict(failed.response))]
        return _edit_page(ctx, name, body, new=new, errors=errors, status=400)
    ctx.ok(f"Saved dashboard {name}")
    for text in validation_messages(answer):
        ctx.ok(f"Warning: {text}")
    return ctx.back(view_path(name))


def delete(ctx: Ctx) -> Response:
    name = ctx.form.get("name", "")
    if not name:
        raise BadRequest("which dashboard?")
    asked = ctx.confirmed(f"Delete dashboard {name}?", "Yes, delete it")
    if asked is not None:
        return asked
    ctx.client("cloudwatch").delete_dashboards(DashboardNames=[name])
    ctx.ok(f"Deleted dashboard {name}")
    return ctx.back("/dashboards")


ROUTES = [
    Route("GET", "/dashboards", dashboards, "/dashboards"),
    Route("GET", "/dashboards/view", view, "/dashboards"),
    Route("GET", "/dashboards/edit", edit_page, "/dashboards"),
    Route("POST", "/dashboards/edit", save, "/dashboards"),
    Route("POST", "/dashboards/delete", delete, "/dashboards"),
]
