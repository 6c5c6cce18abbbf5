"""Every error STS answers with, by the code AWS gives it."""

from __future__ import annotations

from mallee.api.errors import ServiceError, access_denied

__all__ = [
    "access_denied",
    "invalid_parameter_value",
    "malformed",
    "packed_policy_too_large",
    "password_reset_required",
    "validation",
]


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicyDocument", message, 400)


def packed_policy_too_large(message: str) -> ServiceError:
    return ServiceError("PackedPolicyTooLarge", message, 400)


def invalid_parameter_value(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message, 400)


def password_reset_required(message: str) -> ServiceError:
    return ServiceError("PasswordResetRequired", message, 403)
