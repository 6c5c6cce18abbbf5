"""Cloud administration, for whoever the cloud lets administer it (Empyrean answered at sign-in):
the service registry, the nodes and their maintenance, cloud properties, accounts and instance
types. The API decides again on every call; the pages only follow what it allowed."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mallee.console.context import BadRequest, Ctx, Route
from mallee.console.pages.listing import (
    Column,
    api_page,
    ec2_filters,
    listing,
    local_filters,
    local_page,
)

SERVICE_COLUMNS = (
    Column("type", "Type"),
    Column("name", "Name"),
    Column("partition", "Partition"),
    Column("host", "Host"),
    Column("state", "State"),
)
NODE_COLUMNS = (
    Column("name", "Name"),
    Column("partition", "Zone"),
    Column("host", "Host"),
    Column("state", "State"),
    Column("details", "Details"),
)
PROPERTY_COLUMNS = (
    Column("name", "Name"),
    Column("value", "Value"),
    Column("default", "Default"),
    Column("description", "Description"),
)
ACCOUNT_COLUMNS = (Column("name", "Name"), Column("id", "Id"))
TYPE_COLUMNS = (
    Column("name", "Name"),
    Column("cpu", "CPUs"),
    Column("memory", "Memory (MiB)"),
    Column("disk", "Disk (GB)"),
)
# Eucalyptus' states for a component the administrator sets; a node DISABLED takes no new
# instances (maintenance) and ENABLED takes them again.
NODE_STATES = {"ENABLED": "Enable", "DISABLED": "Disable (maintenance)"}


def _service_rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for s in found:
        sid = s.get("ServiceId", {})
        rows.append(
            {
                "type": sid.get("Type", ""),
                "name": sid.get("Name", ""),
                "partition": sid.get("Partition", ""),
                "host": sid.get("Host") or sid.get("Uri", ""),
                "state": s.get("LocalState", ""),
                "details": "; ".join(d.get("Entry", "") for d in s.get("Details", [])),
            }
        )
    return rows


def services(ctx: Ctx) -> Response:
    # The registry is answered whole (Empyrean has no paging): the page is cut here.
    lst = listing(ctx, "/admin/services", SERVICE_COLUMNS, local_filters(SERVICE_COLUMNS))
    found = ctx.client("empyrean").describe_services(ListAll=True).get("ServiceStatuses", [])
    return ctx.page("admin_services.html", "Services", lst=local_page(lst, _service_rows(found)))


def nodes(ctx: Ctx) -> Response:
    lst = listing(
        ctx, "/admin/nodes", NODE_COLUMNS, local_filters(NODE_COLUMNS), default_sort="name"
    )
    found = (
        ctx.client("empyrean")
        .describe_services(ByServiceType="node", ShowEvents=True)
        .get("ServiceStatuses", [])
    )
    return ctx.page(
        "admin_nodes.html", "Nodes", lst=local_page(lst, _service_rows(found)), states=NODE_STATES
    )


def node_state(ctx: Ctx) -> Response:
    name, state = ctx.arg("name"), ctx.arg("state")
    if state not in NODE_STATES:
        raise BadRequest("a node is ENABLED or DISABLED here")
    if state == "DISABLED":
        asked = ctx.confirmed(
            f"Put the node {name} in maintenance (it takes no new instances)?", "Yes, disable it"
        )
        if asked is not None:
            return asked
    ctx.client("empyrean").modify_service(Name=name, State=state)
    ctx.ok(f"Node {name}: {state}")
    return ctx.back()


def properties(ctx: Ctx) -> Response:
    # The filter is Empyrean's own (a name or dotted prefix); what it answers is paged here.
    lst = listing(
        ctx,
        "/admin/properties",
        PROPERTY_COLUMNS,
        [("prefix", "Name or prefix")],
        default_sort="name",
    )
    params = {"Property": [lst.value]} if lst.value else {}
    found = ctx.client("empyrean").describe_properties(**params).get("Properties", [])
    rows = [
        {
            "name": p.get("Name", ""),
            "value": p.get("Value", ""),
            "default": p.get("DefaultValue", ""),
            "description": p.get("Description", ""),
        }
        for p in found
    ]
    # Filtered by the API already: not again by the text here.
    value, lst.value = lst.value, ""
    local_page(lst, rows)
    lst.value = value
    return ctx.page("admin_properties.html", "Properties", lst=lst)


def modify(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    answer = ctx.client("empyrean").modify_property_value(
        Name=name, Value=ctx.form.get("value", "")
    )
    ctx.ok(f"{name}: {answer.get('OldValue', '')} -> {answer.get('Value', '')}")
    return ctx.back()


def accounts(ctx: Ctx) -> Response:
    # ListAccounts is answered whole: the page is cut here.
    lst = listing(
        ctx, "/admin/accounts", ACCOUNT_COLUMNS, local_filters(ACCOUNT_COLUMNS), default_sort="name"
    )
    found = ctx.client("iam").list_accounts().get("Accounts", [])
    rows = [{"name": a.get("AccountName", ""), "id": a.get("AccountId", "")} for a in found]
    return ctx.page("admin_accounts.html", "Accounts", lst=local_page(lst, rows))


def create_account(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    ctx.client("iam").create_account(AccountName=name)
    ctx.ok(f"Created account {name}")
    return ctx.back()


def delete_account(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    asked = ctx.confirmed(
        f"Delete the account {name} and everything in it?", "Yes, delete the account"
    )
    if asked is not None:
        return asked
    ctx.client("iam").delete_account(AccountName=name, Recursive=True)
    ctx.ok(f"Deleted account {name}")
    return ctx.back()


def instance_types(ctx: Ctx) -> Response:
    lst = listing(ctx, "/admin/instance-types", TYPE_COLUMNS, [("instance-type", "Name")])
    ec2 = ctx.client("ec2")

    def fetch(paging: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"MaxResults": paging["size"], "Filters": ec2_filters(lst)}
        if "token" in paging:
            params["NextToken"] = paging["token"]
        answer = ec2.describe_instance_types(**params)
        rows = [
            {
                "name": t.get("InstanceType", ""),
                "cpu": t.get("VCpuInfo", {}).get("DefaultVCpus", ""),
                "memory": t.get("MemoryInfo", {}).get("SizeInMiB", ""),
                "disk": t.get("InstanceStorageInfo", {}).get("TotalSizeInGB", ""),
            }
            for t in answer.get("InstanceTypes", [])
        ]
        return rows, answer.get("NextToken")

    return ctx.page("admin_instance_types.html", "Instance types", lst=api_page(lst, fetch))


def _number(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{what} is not a number") from None
    if value < 1:
        raise BadRequest(f"{what} must be at least 1")
    return value


def modify_instance_type(ctx: Ctx) -> Response:
    name = ctx.arg("name")
    changes = {
        "Cpu": _number(ctx.arg("cpu"), "CPUs"),
        "Memory": _number(ctx.arg("memory"), "memory"),
        "Disk": _number(ctx.arg("disk"), "disk"),
    }
    ctx.client("ec2").modify_instance_type_attribute(Name=name, **changes)
    ctx.ok(
        f"Instance type {name}: {changes['Cpu']} CPUs, {changes['Memory']} MiB, "
        f"{changes['Disk']} GB"
    )
    return ctx.back()


ROUTES = [
    Route("GET", "/admin/services", services, "/admin/services", admin=True),
    Route("GET", "/admin/nodes", nodes, "/admin/nodes", admin=True),
    Route("POST", "/admin/nodes/state", node_state, "/admin/nodes", admin=True),
    Route("GET", "/admin/properties", properties, "/admin/properties", admin=True),
    Route("POST", "/admin/properties", modify, "/admin/properties", admin=True),
    Route("GET", "/admin/accounts", accounts, "/admin/accounts", admin=True),
    Route("POST", "/admin/accounts/create", create_account, "/admin/accounts", admin=True),
    Route("POST", "/admin/accounts/delete", delete_account, "/admin/accounts", admin=True),
    Route("GET", "/admin/instance-types", instance_types, "/admin/instance-types", admin=True),
    Route(
        "POST",
        "/admin/instance-types",
        modify_instance_type,
        "/admin/instance-types",
        admin=True,
    ),
]
