"""Every error Auto Scaling answers with, by the code and status AWS gives it (the model's
exceptions and its common ValidationError)."""

from __future__ import annotations

from mallee.api.errors import ServiceError


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def already_exists(message: str) -> ServiceError:
    return ServiceError("AlreadyExists", message, 400)


def in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUse", message, 400)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceeded", message, 400)


def activity_in_progress(message: str) -> ServiceError:
    return ServiceError("ScalingActivityInProgress", message, 400)


def invalid_token(token: str) -> ServiceError:
    return ServiceError("InvalidNextToken", f"The token '{token}' is invalid.", 400)


def group_not_found(name: str) -> ServiceError:
    return validation(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")


def lc_not_found(name: str) -> ServiceError:
    return validation(
        f"Launch configuration name not found - Launch configuration {name} not found"
    )


def policy_not_found(name: str) -> ServiceError:
    return validation(f"Policy name not found - Policy {name} not found")


def instance_not_found(instance_id: str) -> ServiceError:
    return validation(
        f"Instance Id not found - No managed instance found for instance ID {instance_id}"
    )


def bounds(min_size: int, max_size: int) -> ServiceError:
    return validation(
        f"Max bound, {max_size}, must be greater than or equal to min bound, {min_size}"
    )


def desired_outside(desired: int, min_size: int, max_size: int) -> ServiceError:
    return validation(
        f"Desired capacity:{desired} must be between the specified min size:{min_size} and "
        f"max size:{max_size}"
    )
