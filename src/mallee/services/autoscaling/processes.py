"""SuspendProcesses and ResumeProcesses (the engine skips a suspended process), and
Enable/DisableMetricsCollection (the engine publishes the enabled group metrics)."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.services.autoscaling import describe_types, errors, rows
from mallee.services.base import Operations, Params, Result, Runtime


def _processes(params: Params) -> list[str]:
    wanted = rows.strings(params, "ScalingProcesses")
    for name in wanted:
        if name not in describe_types.PROCESSES:
            raise errors.validation(f"Invalid scaling process name: {name}")
    return wanted or list(describe_types.PROCESSES)


def suspend_processes(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = _processes(params)
    reason = f"User suspended at {rows.stamp(rows.epoch())}"
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
        have = {str(n): str(r) for n, r in rows.names(group.suspended_processes)}
        for name in wanted:
            have.setdefault(name, reason)
        ordered = [p for p in describe_types.PROCESSES if p in have]
        group.suspended_processes = rows.dump([[p, have[p]] for p in ordered])
    return {}


def resume_processes(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = set(_processes(params))
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
        kept = [[n, r] for n, r in rows.names(group.suspended_processes) if n not in wanted]
        group.suspended_processes = rows.dump(kept)
    return {}


def _metrics(params: Params) -> list[str]:
    wanted = rows.strings(params, "Metrics")
    for name in wanted:
        if name not in describe_types.METRICS:
            raise errors.validation(f"Invalid metric name: {name}")
    return wanted or list(describe_types.METRICS)


def enable_metrics_collection(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    granularity = str(params.get("Granularity") or "")
    if granularity not in describe_types.GRANULARITIES:
        raise errors.validation(f"Invalid granularity: {granularity}. Valid value: 1Minute")
    wanted = set(_metrics(params))
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
        have = {str(m) for m in rows.names(group.enabled_metrics)} | wanted
        group.enabled_metrics = rows.dump([m for m in describe_types.METRICS if m in have])
        group.metrics_granularity = granularity
    return {}


def disable_metrics_collection(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    wanted = set(_metrics(params))
    with rt.store.session() as s:
        group = rows.group(s, ctx.principal.account_id, rows.group_name(params))
        kept = [m for m in rows.names(group.enabled_metrics) if m not in wanted]
        group.enabled_metrics = rows.dump(kept)
        if not kept:
            group.metrics_granularity = ""
    return {}


OPERATIONS: Operations = {
    "SuspendProcesses": suspend_processes,
    "ResumeProcesses": resume_processes,
    "EnableMetricsCollection": enable_metrics_collection,
    "DisableMetricsCollection": disable_metrics_collection,
}
