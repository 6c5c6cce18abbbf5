"""The registry's error codes, as the Empyrean API answers them: in one place, so every
operation spells them the same way.

Not-found errors follow Euare's NoSuchEntity convention (404); a name already taken is 409;
everything malformed is 400 InvalidParameterValue.
"""

from __future__ import annotations

from collections.abc import Iterable

from mallee.api.errors import ServiceError, invalid_parameter_value


def no_such_service(names: Iterable[str]) -> ServiceError:
    listed = ", ".join(sorted(names))
    return ServiceError("NoSuchService", f"No service is registered with name: {listed}", 404)


def service_exists(name: str) -> ServiceError:
    return ServiceError(
        "ServiceAlreadyExists", f"A service named {name} is already registered", 409
    )


def running_elsewhere(name: str, holder: str, claimant: str) -> ServiceError:
    return ServiceError(
        "ServiceAlreadyExists",
        f"Service {name} is running on {holder}; it cannot also run on {claimant}",
        409,
    )


def unknown_type(type_name: str, known: Iterable[str]) -> ServiceError:
    return invalid_parameter_value(
        f"Unknown service type: {type_name} (valid types: {', '.join(sorted(known))})"
    )


def bad_state(state: str, accepted: Iterable[str]) -> ServiceError:
    return invalid_parameter_value(f"Invalid state: {state} (valid: {', '.join(sorted(accepted))})")


def no_such_property(name: str) -> ServiceError:
    return ServiceError("NoSuchProperty", f"No such property: {name}", 404)


def bad_property_value(name: str, value: str, why: str) -> ServiceError:
    return invalid_parameter_value(f"Invalid value {value!r} for property {name}: {why}")


def invalid_combination(message: str) -> ServiceError:
    return ServiceError("InvalidParameterCombination", message, 400)
