"""The registry's errors, with the codes the Empyrean API answers them with: in one place, so
every operation spells them the same way.

Not-found errors follow Euare's NoSuchEntity convention (404); a name already taken is 409;
everything malformed is 400 InvalidParameterValue. The registry sits below the API (the node
and the controller use it), so it raises its own RegistryError; Empyrean answers it as the
ServiceError it describes.
"""

from __future__ import annotations

from collections.abc import Iterable


class RegistryError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def invalid_parameter_value(message: str) -> RegistryError:
    return RegistryError("InvalidParameterValue", message, 400)


def no_such_service(names: Iterable[str]) -> RegistryError:
    listed = ", ".join(sorted(names))
    return RegistryError("NoSuchService", f"No service is registered with name: {listed}", 404)


def service_exists(name: str) -> RegistryError:
    return RegistryError(
        "ServiceAlreadyExists", f"A service named {name} is already registered", 409
    )


def running_elsewhere(name: str, holder: str, claimant: str) -> RegistryError:
    return RegistryError(
        "ServiceAlreadyExists",
        f"Service {name} is running on {holder}; it cannot also run on {claimant}",
        409,
    )


def unknown_type(type_name: str, known: Iterable[str]) -> RegistryError:
    return invalid_parameter_value(
        f"Unknown service type: {type_name} (valid types: {', '.join(sorted(known))})"
    )


def bad_state(state: str, accepted: Iterable[str]) -> RegistryError:
    return invalid_parameter_value(f"Invalid state: {state} (valid: {', '.join(sorted(accepted))})")


def no_such_property(name: str) -> RegistryError:
    return RegistryError("NoSuchProperty", f"No such property: {name}", 404)


def bad_property_value(name: str, value: str, why: str) -> RegistryError:
    return invalid_parameter_value(f"Invalid value {value!r} for property {name}: {why}")


def invalid_combination(message: str) -> RegistryError:
    return RegistryError("InvalidParameterCombination", message, 400)
