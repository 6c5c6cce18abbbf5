"""Every error CloudWatch's metric operations answer with, by the code AWS gives it."""

from __future__ import annotations

from mallee.api.errors import ServiceError


def invalid_value(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message, 400)


def invalid_combination(message: str) -> ServiceError:
    return ServiceError("InvalidParameterCombination", message, 400)


def missing(message: str) -> ServiceError:
    return ServiceError("MissingParameter", message, 400)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def invalid_token(message: str) -> ServiceError:
    return ServiceError("InvalidNextToken", message, 400)
