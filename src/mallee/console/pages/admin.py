"""Cloud administration (account `eucalyptus` only): the service registry and cloud properties."""

from __future__ import annotations

from mallee.api.http import HttpResponse
from mallee.console.context import Ctx, Route
from mallee.console.html import field, form, render, section, table, url
from mallee.console.web import PREFIX


def services(ctx: Ctx) -> HttpResponse:
    found = ctx.client("empyrean").describe_services(ListAll=True).get("ServiceStatuses", [])
    rows = [
        (
            s.get("ServiceId", {}).get("Type", ""),
            s.get("ServiceId", {}).get("Name", ""),
            s.get("ServiceId", {}).get("Partition", ""),
            s.get("ServiceId", {}).get("Host") or s.get("ServiceId", {}).get("Uri", ""),
            s.get("LocalState", ""),
        )
        for s in found
    ]
    return ctx.page(
        "Services",
        section(
            "Service registry",
            table(["Type", "Name", "Partition", "Host", "State"], rows, empty="None."),
        ),
    )


def properties(ctx: Ctx) -> HttpResponse:
    prefix = ctx.arg("prefix")
    params = {"Property": [prefix]} if prefix else {}
    found = ctx.client("empyrean").describe_properties(**params).get("Properties", [])
    rows = [
        (
            p.get("Name", ""),
            p.get("Value", ""),
            p.get("DefaultValue", ""),
            p.get("Description", ""),
            form(
                url(PREFIX + "/admin/properties", prefix=prefix or None),
                ctx.csrf,
                [
                    render('<input type="hidden" name="name" value="{n}">', n=p.get("Name", "")),
                    field("", "value", value=p.get("Value", "")),
                ],
                "Set",
                css="inline",
            ),
        )
        for p in found
    ]
    search = render(
        '<form method="get" action="{action}"><label>Name or prefix '
        '<input name="prefix" value="{prefix}"></label><button>Show</button></form>',
        action=PREFIX + "/admin/properties",
        prefix=prefix,
    )
    return ctx.page(
        "Properties",
        search,
        section(
            "Cloud properties",
            table(
                ["Name", "Value", "Default", "Description", "Change"],
                rows,
                empty="No such property.",
            ),
        ),
    )


def modify(ctx: Ctx) -> HttpResponse:
    name = ctx.arg("name")
    answer = ctx.client("empyrean").modify_property_value(
        Name=name, Value=ctx.request.form.get("value", "")
    )
    ctx.ok(f"{name}: {answer.get('OldValue', '')} -> {answer.get('Value', '')}")
    return ctx.back(url("/admin/properties", prefix=ctx.request.query.get("prefix") or None))


ROUTES = [
    Route("GET", "/admin/services", services, "/admin/services", admin=True),
    Route("GET", "/admin/properties", properties, "/admin/properties", admin=True),
    Route("POST", "/admin/properties", modify, "/admin/properties", admin=True),
]
