"""Empyrean: one method per operation of the model in api/models/data/empyrean.

Only the cloud administrator (principals of the `eucalyptus` account) may call any of it.
IAM actions are euserv:<Operation>, Eucalyptus' vendor for service administration.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mallee.api.context import RequestContext
from mallee.api.errors import missing_parameter
from mallee.registry import components, errors, properties
from mallee.registry.types import SERVICE_TYPES
from mallee.services.base import Params, Provider, Result
from mallee.services.empyrean import describe


def _required(params: Params, key: str) -> Any:
    value = params.get(key)
    if value is None or value == "":
        raise missing_parameter(key)
    return value


class EmpyreanProvider(Provider):
    service: ClassVar[str] = "empyrean"
    action_prefix: ClassVar[str] = "euserv"
    admin_operations: ClassVar[frozenset[str]] = frozenset({"*"})

    @property
    def _timeout(self) -> float:
        return float(self.runtime.settings.heartbeat_timeout)

    # --- service registry -----------------------------------------------------------------------

    def describe_services(self, ctx: RequestContext, params: Params) -> Result:
        records = components.list_services(self.store, timeout=self._timeout)
        return describe.describe_services(records, params)

    def register_service(self, ctx: RequestContext, params: Params) -> Result:
        record = components.register_service(
            self.store,
            type=str(_required(params, "Type")),
            name=str(_required(params, "Name")),
            host=str(_required(params, "Host")),
            port=params.get("Port"),
            partition=str(params.get("Partition") or ""),
            timeout=self._timeout,
        )
        return {"Return": True, "RegisteredServices": [describe.service_id(record)]}

    def deregister_service(self, ctx: RequestContext, params: Params) -> Result:
        record = components.deregister_service(
            self.store,
            str(_required(params, "Name")),
            type=params.get("Type") or None,
            timeout=self._timeout,
        )
        return {"Return": True, "DeregisteredServices": [describe.service_id(record)]}

    def modify_service(self, ctx: RequestContext, params: Params) -> Result:
        components.modify_service(
            self.store,
            str(_required(params, "Name")),
            str(_required(params, "State")),
            timeout=self._timeout,
        )
        return {"Return": True}

    def describe_available_service_types(self, ctx: RequestContext, params: Params) -> Result:
        verbose = bool(params.get("Verbose"))
        shown = [t for t in SERVICE_TYPES.values() if verbose or t.registerable]
        return {"Available": [describe.available_type(t) for t in shown]}

    # --- cloud properties -----------------------------------------------------------------------

    def describe_properties(self, ctx: RequestContext, params: Params) -> Result:
        queries = [str(q) for q in params.get("Property") or []]
        return {
            "Properties": [
                {
                    "Name": view.name,
                    "Value": view.value,
                    "Description": view.definition.description,
                    "DefaultValue": view.definition.default,
                }
                for view in properties.describe(self.store, queries)
            ]
        }

    def modify_property_value(self, ctx: RequestContext, params: Params) -> Result:
        name = str(_required(params, "Name"))
        value, reset = params.get("Value"), bool(params.get("Reset"))
        if reset and value is not None:
            raise errors.invalid_combination("Specify either Value or Reset, not both")
        if reset:
            old, new = properties.reset(self.store, name)
        elif value is None:
            raise missing_parameter("Value")
        else:
            old, new = properties.set_value(self.store, name, str(value))
        return {"Name": name, "Value": new, "OldValue": old}
