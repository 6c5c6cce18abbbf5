"""Every error Empyrean answers: its own, and the registry's RegistryError as the ServiceError
it describes."""

from __future__ import annotations

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError, missing_parameter
from mallee.registry.errors import RegistryError
from mallee.services.base import Operation, Operations, Params, Result, Runtime


def missing(name: str) -> ServiceError:
    return missing_parameter(name)


def value_and_reset() -> ServiceError:
    return ServiceError(
        "InvalidParameterCombination", "Specify either Value or Reset, not both", 400
    )


def answering_registry_errors(operations: Operations) -> Operations:
    """The operations, each answering a RegistryError with its code and status."""

    def answering(function: Operation) -> Operation:
        def operation(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
            try:
                return function(rt, ctx, params)
            except RegistryError as err:
                raise ServiceError(err.code, err.message, err.status) from None

        return operation

    return {name: answering(function) for name, function in operations.items()}
