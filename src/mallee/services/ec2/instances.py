"""EC2 instances: run, describe, terminate, stop, start, reboot, console, monitoring.

The api only records what the caller asked for; the controller places instances and the node
agent makes the VMs match (see mallee.store.tables.ec2.Ec2Instance).
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.ids import is_id
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.ec2 import block_devices, dns, errors, launch
from mallee.services.ec2 import instance_views as views
from mallee.services.ec2.default_vpc import default_vpc_ready
from mallee.services.ec2.filters import lookup, matches, parse_filters
from mallee.services.ec2.instance_profiles import authorize_pass_role
from mallee.services.ec2.interface_views import Interface, of_instances
from mallee.services.ec2.launch_template_merge import with_template
from mallee.services.ec2.pagination import page
from mallee.services.ec2.tags import tags_for
from mallee.store.tables.compute import InstanceConsole
from mallee.store.tables.ec2 import Ec2Instance


def owned(s: Session, account: str, ids: Sequence[str]) -> list[Ec2Instance]:
    """The caller's instances by id, in the order asked; NotFound/Malformed as EC2 reports."""
    bad = [i for i in ids if not is_id(i, "i")]
    if bad:
        raise errors.malformed("instance", bad[0], "i")
    rows = s.scalars(
        select(Ec2Instance).where(Ec2Instance.account_id == account, Ec2Instance.id.in_(ids))
    ).all()
    by_id = {r.id: r for r in rows}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise errors.instances_not_found(missing)
    return [by_id[i] for i in dict.fromkeys(ids)]


def move(row: Ec2Instance, new: str, reason: str = "") -> None:
    row.state = new
    row.state_changed_at = time.time()
    if reason:
        row.transition_reason = reason


def _change(row: Ec2Instance, before: str) -> dict[str, Any]:
    return {
        "InstanceId": row.id,
        "CurrentState": views.state(row.state),
        "PreviousState": views.state(before),
    }


def _user_reason(verb: str) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime())
    return f"User initiated ({stamp})" if verb else ""


def run_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    token = params.get("ClientToken")
    if token:
        earlier = _by_token(rt, ctx, str(token))
        if earlier is not None:
            return earlier
    params = with_template(rt, ctx, params)
    # Before the launch's write transaction: authorizing reads (and may note a key's use).
    authorize_pass_role(rt, ctx, params.get("IamInstanceProfile"))
    # The launch goes into the account's default VPC unless it names a subnet.
    default_vpc_ready(rt, ctx.principal.account_id)
    try:
        with rt.store.session() as s:
            plan = launch.plan(s, ctx, params, rt.settings.zone, launch.user_data_limit(rt.store))
            count = launch.how_many(s, params, plan, rt.settings.heartbeat_timeout)
            rows = launch.create(s, ctx, params, plan, count)
            # New instances carry only the tags their request specified.
            tagged = bool(params.get("TagSpecifications"))
            volumes = any(m.ebs for m in plan.mappings)
            return _reservation(rt, s, ctx, rows, with_tags=tagged, with_devices=volumes)
    except IntegrityError:
        # A concurrent request with the same ClientToken won the race: answer with its.
        if token and (earlier := _by_token(rt, ctx, str(token))) is not None:
            return earlier
        raise


def _by_token(rt: Runtime, ctx: RequestContext, token: str) -> Result | None:
    with rt.store.read() as s:
        rows = s.scalars(
            select(Ec2Instance)
            .where(
                Ec2Instance.account_id == ctx.principal.account_id,
                Ec2Instance.client_token == token,
            )
            .order_by(Ec2Instance.launch_index)
        ).all()
        return _reservation(rt, s, ctx, list(rows)) if rows else None


def _reservation(
    rt: Runtime,
    s: Session,
    ctx: RequestContext,
    rows: Sequence[views.InstanceView],
    *,
    with_tags: bool = True,
    with_devices: bool = True,
) -> Result:
    ids = [r.id for r in rows]
    tags = tags_for(s, ctx.principal.account_id, ids) if with_tags else {}
    devices = views.devices_of(s, ctx.principal.account_id, ids) if with_devices else {}
    interfaces = of_instances(s, ctx.principal.account_id, ids)
    names = dns.names(rt)
    first = rows[0]
    return {
        "ReservationId": first.reservation_id,
        "OwnerId": first.account_id,
        "Groups": views.groups(first),
        "Instances": [
            views.instance_out(
                r, tags.get(r.id, {}), names, devices.get(r.id, ()), interfaces.get(r.id, ())
            )
            for r in rows
        ],
    }


def describe_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    ids = params.get("InstanceIds") or []
    if ids and params.get("MaxResults") is not None:
        raise errors.invalid_combination(
            "The parameter instancesSet cannot be used with the parameter maxResults"
        )
    names = dns.names(rt)
    interfaces: dict[str, tuple[Interface, ...]] = {}
    lookups = {
        **views.FILTERS,
        **views.dns_filters(names),
        **views.interface_filters(interfaces, names),
    }
    filters = parse_filters(params.get("Filters"), lookups)
    account = ctx.principal.account_id
    with rt.store.read() as s:
        if ids:
            rows: Sequence[views.InstanceView] = owned(s, account, ids)
        else:
            found = s.connection().execute(views.view_query(account)).all()
            rows = cast(Sequence[views.InstanceView], found)
        tags = tags_for(s, account, [r.id for r in rows], "instance") if rows else {}
        devices = views.devices_of(s, account, ids or None) if rows else {}
        interfaces.update(of_instances(s, account, ids or None) if rows else {})
    chosen = [r for r in rows if _wanted(r, filters, lookups, tags.get(r.id, {}))]
    # MaxResults counts instances, as AWS's does: a reservation larger than what is left of a
    # page continues on the next one (grouped by reservation within each page).
    members_of, token = page(chosen, params, key=lambda r: f"{r.reservation_id}/{r.id}")
    groups: dict[str, list[views.InstanceView]] = {}
    for r in members_of:
        groups.setdefault(r.reservation_id, []).append(r)
    out: Result = {
        "Reservations": [
            {
                "ReservationId": rid,
                "OwnerId": members[0].account_id,
                "Groups": views.groups(members[0]),
                "Instances": [
                    views.instance_out(
                        r,
                        tags.get(r.id, {}),
                        names,
                        devices.get(r.id, ()),
                        interfaces.get(r.id, ()),
                    )
                    for r in members
                ],
            }
            for rid, members in groups.items()
        ]
    }
    if token:
        out["NextToken"] = token
    return out


def _wanted(
    row: views.InstanceView,
    filters: Any,
    lookups: dict[str, Callable[[views.InstanceView], Any]],
    tags: dict[str, str],
) -> bool:
    if not filters:
        return True
    return matches(filters, lookup(lookups, row), tags)


def terminate_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    changes = []
    with rt.store.session() as s:
        rows = owned(s, ctx.principal.account_id, params.get("InstanceIds") or [])
        locked = [r.id for r in rows if r.disable_api_termination and r.state != "terminated"]
        if locked:
            raise errors.termination_disabled(locked[0])
        for row in rows:
            before = row.state
            if before in ("terminated", "shutting-down"):
                pass
            elif row.node is None:
                # Never placed: nothing runs anywhere, so it ends here.
                move(row, "terminated", _user_reason("terminate"))
                row.terminated_at = time.time()
            else:
                move(row, "shutting-down", _user_reason("terminate"))
            if before != row.state and not row.state_reason_code:
                row.state_reason_code = "Client.UserInitiatedShutdown"
                row.state_reason_message = "Client.UserInitiatedShutdown: User initiated shutdown"
            changes.append(_change(row, before))
    return {"TerminatingInstances": changes}


def stop_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    changes = []
    with rt.store.session() as s:
        rows = owned(s, ctx.principal.account_id, params.get("InstanceIds") or [])
        for row in rows:
            if row.root_device_type != "ebs":
                raise errors.not_ebs(row.id)
            if row.state in ("terminated", "shutting-down"):
                raise errors.incorrect_state(row.id, "stopped")
        for row in rows:
            before = row.state
            if before in ("pending", "running"):
                move(row, "stopping", _user_reason("stop"))
            changes.append(_change(row, before))
    return {"StoppingInstances": changes}


def start_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    changes = []
    with rt.store.session() as s:
        rows = owned(s, ctx.principal.account_id, params.get("InstanceIds") or [])
        for row in rows:
            if row.state not in ("stopped", "pending", "running"):
                raise errors.incorrect_state(row.id, "started")
            # Its root volume may have been detached while it was stopped: nothing to boot.
            if (
                row.state == "stopped"
                and row.root_device_type == "ebs"
                and not block_devices.root_attached(s, row.id, row.root_device_name)
            ):
                raise errors.no_root_volume(row.id, row.root_device_name)
        for row in rows:
            before = row.state
            if before == "stopped":
                move(row, "pending")
                row.state_reason_code = row.state_reason_message = None
            changes.append(_change(row, before))
    return {"StartingInstances": changes}


def reboot_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        rows = owned(s, ctx.principal.account_id, params.get("InstanceIds") or [])
        for row in rows:
            if row.state == "terminated":
                raise errors.incorrect_state(row.id, "rebooted")
        for row in rows:
            if row.state == "running":
                row.reboots_requested += 1
    return {}


def get_console_output(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    instance_id = str(params.get("InstanceId", ""))
    with rt.store.read() as s:
        owned(s, ctx.principal.account_id, [instance_id])
        console = s.get(InstanceConsole, instance_id)
    # AWS always answers a Timestamp, now when there is no output yet (Libcloud parses it).
    out: Result = {"InstanceId": instance_id, "Timestamp": _utc(time.time())}
    if console is not None and console.output:
        text = console.output
        if params.get("Latest"):
            text = text[-64 * 1024 :]
        out["Output"] = base64.b64encode(text.encode()).decode()
        out["Timestamp"] = _utc(console.updated_at)
    return out


def monitor_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _monitoring(rt, ctx, params, True)


def unmonitor_instances(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    return _monitoring(rt, ctx, params, False)


def _monitoring(rt: Runtime, ctx: RequestContext, params: Params, on: bool) -> Result:
    with rt.store.session() as s:
        rows = owned(s, ctx.principal.account_id, params.get("InstanceIds") or [])
        for row in rows:
            row.monitoring = on
        state = "pending" if on else "disabling"
        return {
            "InstanceMonitorings": [
                {"InstanceId": r.id, "Monitoring": {"State": state}} for r in rows
            ]
        }


def _utc(epoch: float) -> Any:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(microsecond=0)


OPERATIONS: Operations = {
    "DescribeInstances": describe_instances,
    "GetConsoleOutput": get_console_output,
    "MonitorInstances": monitor_instances,
    "RebootInstances": reboot_instances,
    "RunInstances": run_instances,
    "StartInstances": start_instances,
    "StopInstances": stop_instances,
    "TerminateInstances": terminate_instances,
    "UnmonitorInstances": unmonitor_instances,
}
