"""DescribeServices and the Empyrean output shapes (ServiceId, ServiceStatus, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mallee.api.errors import invalid_parameter_value
from mallee.registry import errors
from mallee.registry.components import STATES, ServiceRecord
from mallee.registry.types import SERVICE_TYPES, ServiceType, service_type

Params = dict[str, Any]
Result = dict[str, Any]


def entries(values: Iterable[str]) -> list[dict[str, str]]:
    """A string list the way Eucalyptus writes it: <item><entry>value</entry></item>."""
    return [{"Entry": v} for v in values]


def service_id(record: ServiceRecord) -> Result:
    return {
        "Uuid": record.id,
        "Partition": record.shown_partition,
        "Name": record.name,
        "Type": record.type,
        "FullName": record.full_name,
        "Uris": entries([record.uri]),
        "Uri": record.uri,
        "Host": record.host,
    }


def _status_details(record: ServiceRecord, stacks: bool) -> list[Result]:
    severity = "INFO" if record.state in ("ENABLED", "DISABLED", "STOPPED") else "ERROR"
    details: list[Result] = []
    for message in record.details:
        detail: Result = {
            "Severity": severity,
            "Uuid": record.id,
            "Message": message,
            "ServiceFullName": record.full_name,
            "ServiceName": record.name,
            "ServiceHost": record.host,
        }
        if stacks:
            # The registry keeps no stack traces; the component's own log has them.
            detail["StackTrace"] = ""
        details.append(detail)
    return details


def service_status(record: ServiceRecord, *, events: bool, stacks: bool) -> Result:
    status: Result = {
        "ServiceId": service_id(record),
        "LocalState": record.state,
        "LocalEpoch": record.epoch,
        "Details": entries(record.details),
    }
    if events or stacks:
        status["StatusDetails"] = _status_details(record, stacks)
    return status


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


# Filter name -> the values a service has for it (Filter.N.Name / Filter.N.Value.M).
_FILTERS: dict[str, Callable[[ServiceRecord, ServiceType], list[str]]] = {
    "availability-zone": lambda r, t: [r.partition],
    "partition": lambda r, t: [r.partition],
    "host": lambda r, t: [r.host],
    "internal": lambda r, t: [_bool_text(t.internal)],
    "public": lambda r, t: [_bool_text(t.public_api)],
    "service-group": lambda r, t: list(t.groups),
    "service-group-member": lambda r, t: [_bool_text(bool(t.groups))],
    "service-type": lambda r, t: [r.type],
    "state": lambda r, t: [r.state],
}
# Compared without regard to case, as the euserv tools print states in lower case.
_CASELESS = frozenset({"internal", "public", "service-group-member", "state"})


def _filters(params: Params) -> list[tuple[str, set[str]]]:
    parsed = []
    for item in params.get("Filter") or []:
        name = str(item.get("Name") or "")
        if name not in _FILTERS:
            raise invalid_parameter_value(f"The filter '{name}' is invalid")
        values = {str(v) for v in item.get("Value") or []}
        if name in _CASELESS:
            values = {v.lower() for v in values}
        parsed.append((name, values))
    return parsed


def _matches_filters(record: ServiceRecord, filters: list[tuple[str, set[str]]]) -> bool:
    stype = SERVICE_TYPES[record.type]
    for name, wanted in filters:
        have = _FILTERS[name](record, stype)
        if name in _CASELESS:
            have = [v.lower() for v in have]
        if not wanted.intersection(have):
            return False
    return True


def _by_params(params: Params) -> list[Callable[[ServiceRecord], bool]]:
    """The ByServiceType/ByHost/ByState/ByPartition equality filters."""
    tests: list[Callable[[ServiceRecord], bool]] = []
    if params.get("ByServiceType"):
        wanted_type = service_type(str(params["ByServiceType"])).name
        tests.append(lambda r: r.type == wanted_type)
    if params.get("ByState"):
        wanted_state = str(params["ByState"]).upper()
        if wanted_state not in STATES:
            raise errors.bad_state(str(params["ByState"]), STATES)
        tests.append(lambda r: r.state == wanted_state)
    if params.get("ByHost"):
        host = str(params["ByHost"])
        tests.append(lambda r: r.host == host)
    if params.get("ByPartition"):
        partition = str(params["ByPartition"])
        tests.append(lambda r: r.partition == partition)
    return tests


def _shows_internal(params: Params) -> bool:
    """Internal types (node) appear when asked for by name, type, or ListAll/ListInternal."""
    if params.get("ListAll") or params.get("ListInternal") or params.get("ByServiceType"):
        return True
    return any(f.get("Name") in ("service-type", "internal") for f in params.get("Filter") or [])


def select_services(records: list[ServiceRecord], params: Params) -> list[ServiceRecord]:
    """The services a DescribeServices request asks for, ordered by type, zone and name."""
    names = [str(n) for n in params.get("ServiceName") or [] if n]
    if names:
        known = {r.name for r in records}
        missing = [n for n in names if n not in known]
        if missing:
            raise errors.no_such_service(missing)
        records = [r for r in records if r.name in names]
    elif not _shows_internal(params):
        records = [r for r in records if not SERVICE_TYPES[r.type].internal]
    if params.get("ListUserServices"):
        records = [r for r in records if SERVICE_TYPES[r.type].public_api]
    tests = _by_params(params)
    filters = _filters(params)
    chosen = [r for r in records if all(t(r) for t in tests) and _matches_filters(r, filters)]
    return sorted(chosen, key=lambda r: (r.type, r.partition, r.name))


def describe_services(records: list[ServiceRecord], params: Params) -> Result:
    events, stacks = bool(params.get("ShowEvents")), bool(params.get("ShowEventStacks"))
    return {
        "ServiceStatuses": [
            service_status(r, events=events, stacks=stacks)
            for r in select_services(records, params)
        ]
    }


def available_type(stype: ServiceType) -> Result:
    return {
        "ComponentName": stype.name,
        "ComponentCapitalizedName": stype.capitalized,
        "Description": stype.description,
        "HasCredentials": False,
        "Registerable": stype.registerable,
        "RequiresName": True,
        "Partitioned": stype.partitioned,
        "PublicApiService": stype.public_api,
        "ServiceGroups": entries(stype.groups),
        "ServiceGroupMembers": entries(stype.members),
    }
