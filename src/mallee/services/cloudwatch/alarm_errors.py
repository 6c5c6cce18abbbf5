"""Every error CloudWatch's alarm, tag and dashboard operations answer with, by the code AWS
gives it (the metric operations' are in errors.py)."""

from __future__ import annotations

from typing import Any

from mallee.api.errors import ServiceError


def alarm_not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message, 404)


def tag_resource_not_found(arn: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"The resource {arn} does not exist.", 404)


def dashboard_not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message, 404)


def limit_exceeded(message: str) -> ServiceError:
    return ServiceError("LimitExceeded", message, 400)


def invalid_format(message: str) -> ServiceError:
    return ServiceError("InvalidFormat", message, 400)


def dashboard_invalid(messages: list[dict[str, Any]]) -> ServiceError:
    """PutDashboard's refusal: the body's faults, as DashboardValidationMessages."""
    text = "The field DashboardBody must be a valid JSON object"
    if messages:
        text = str(messages[0].get("Message") or text)
    return ServiceError("InvalidParameterInput", text, 400)
