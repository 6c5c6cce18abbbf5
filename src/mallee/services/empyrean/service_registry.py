"""The service registry's operations: euca-describe-services and its register, deregister and
modify commands (the rows live in mallee.registry; this is their API)."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.registry import components
from mallee.registry.types import SERVICE_TYPES
from mallee.services.base import Operations, Params, Result, Runtime
from mallee.services.empyrean import describe
from mallee.services.empyrean.params import required


def _timeout(rt: Runtime) -> float:
    return float(rt.settings.heartbeat_timeout)


def describe_services(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    records = components.list_services(rt.store, timeout=_timeout(rt))
    return describe.describe_services(records, params)


def register_service(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    record = components.register_service(
        rt.store,
        type=str(required(params, "Type")),
        name=str(required(params, "Name")),
        host=str(required(params, "Host")),
        port=params.get("Port"),
        partition=str(params.get("Partition") or ""),
        timeout=_timeout(rt),
    )
    return {"Return": True, "RegisteredServices": [describe.service_id(record)]}


def deregister_service(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    record = components.deregister_service(
        rt.store,
        str(required(params, "Name")),
        type=params.get("Type") or None,
        timeout=_timeout(rt),
    )
    return {"Return": True, "DeregisteredServices": [describe.service_id(record)]}


def modify_service(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    components.modify_service(
        rt.store,
        str(required(params, "Name")),
        str(required(params, "State")),
        timeout=_timeout(rt),
    )
    return {"Return": True}


def describe_available_service_types(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
    verbose = bool(params.get("Verbose"))
    shown = [t for t in SERVICE_TYPES.values() if verbose or t.registerable]
    return {"Available": [describe.available_type(t) for t in shown]}


OPERATIONS: Operations = {
    "DescribeServices": describe_services,
    "RegisterService": register_service,
    "DeregisterService": deregister_service,
    "ModifyService": modify_service,
    "DescribeAvailableServiceTypes": describe_available_service_types,
}
