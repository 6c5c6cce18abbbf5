"""Every error IAM answers with, by the code AWS gives it."""

from __future__ import annotations

from mallee.api.errors import ServiceError, access_denied

__all__ = [
    "access_denied",
    "already_exists",
    "delete_conflict",
    "invalid_input",
    "invalid_user_type",
    "limit_exceeded",
    "malformed",
    "no_such_entity",
    "password_policy_violation",
    "validation",
]


def no_such_entity(message: str) -> ServiceError:
    return ServiceError("NoSuchEntity", message, 404)


def already_exists(message: str) -> ServiceError:
    return ServiceError("EntityAlreadyExists", message, 409)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceeded", message, 409)


def delete_conflict(message: str) -> ServiceError:
    return ServiceError("DeleteConflict", message, 409)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def invalid_input(message: str) -> ServiceError:
    return ServiceError("InvalidInput", message, 400)


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicyDocument", message, 400)


def password_policy_violation(message: str) -> ServiceError:
    return ServiceError("PasswordPolicyViolation", message, 400)


def invalid_user_type(message: str) -> ServiceError:
    return ServiceError("InvalidUserType", message, 400)
