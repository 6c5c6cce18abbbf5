"""AttachLoadBalancers, DetachLoadBalancers and DescribeLoadBalancers: a group's classic load
balancers (the engine registers the group's instances with them and deregisters them from the
ones detached)."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.services import page_tokens
from mallee.services.autoscaling import errors, placement, rows
from mallee.services.base import Operations, Params, Result, Runtime

MAX_LOAD_BALANCERS = 50


def attach_load_balancers(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    account = ctx.principal.account_id
    with rt.store.session() as s:
        group = rows.group(s, account, rows.group_name(params), lock=True)
        wanted = placement.load_balancers(s, account, rows.strings(params, "LoadBalancerNames"))
        have = [str(n) for n in rows.names(group.load_balancer_names)]
        merged = list(dict.fromkeys([*have, *wanted]))
        if len(merged) > MAX_LOAD_BALANCERS:
            raise errors.limit_exceeded(
                f"A group may have at most {MAX_LOAD_BALANCERS} load balancers"
            )
        group.load_balancer_names = rows.dump(merged)
    return {}


def detach_load_balancers(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params), lock=True)
        gone = set(rows.strings(params, "LoadBalancerNames"))
        have = [str(n) for n in rows.names(group.load_balancer_names)]
        group.load_balancer_names = rows.dump([n for n in have if n not in gone])
    return {}


def describe_load_balancers(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    size = rows.page_size(params, 100, 100)
    start = rows.page_start(params)
    with rt.store.read() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
        names = sorted(str(n) for n in rows.names(group.load_balancer_names))
    if start is not None:
        names = [n for n in names if n > start]
    out: Result = {
        "LoadBalancers": [{"LoadBalancerName": n, "State": "Added"} for n in names[:size]]
    }
    if len(names) > size:
        out["NextToken"] = page_tokens.encode(names[size - 1])
    return out


OPERATIONS: Operations = {
    "AttachLoadBalancers": attach_load_balancers,
    "DetachLoadBalancers": detach_load_balancers,
    "DescribeLoadBalancers": describe_load_balancers,
}
