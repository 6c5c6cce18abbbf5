"""AWS-shaped errors. Anything raised to the wire layer that is not a ServiceError is a 500."""

from __future__ import annotations


class ServiceError(Exception):
    """An error the client should see, with the AWS error code and HTTP status."""

    def __init__(
        self,
        code: str,
        message: str = "",
        status: int = 400,
        *,
        sender_fault: bool = True,
        headers: dict[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.headers = headers or {}
        # Extra fields some protocols put beside Code/Message (S3: Resource, BucketName, ...).
        self.extra = extra or {}


def invalid_action(action: str) -> ServiceError:
    return ServiceError(
        "InvalidAction", f"The action {action} is not valid for this web service.", 400
    )


def missing_action() -> ServiceError:
    return ServiceError("MissingAction", "The request must contain the parameter Action", 400)


def missing_parameter(name: str) -> ServiceError:
    return ServiceError(
        "MissingParameter",
        f"The request must contain the parameter {name}",
        400,
    )


def invalid_parameter_value(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message, 400)


def malformed_input(message: str) -> ServiceError:
    """The body could not be parsed at all (bad XML, JSON or CBOR)."""
    return ServiceError("MalformedInput", message, 400)


def validation_error(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def access_denied(message: str = "Access Denied") -> ServiceError:
    return ServiceError("AccessDenied", message, 403)


def internal_error() -> ServiceError:
    return ServiceError(
        "InternalFailure",
        "The request processing has failed because of an unknown error.",
        500,
        sender_fault=False,
    )


def request_timeout() -> ServiceError:
    """A request (its head or body) stalled: the connection is closed after this answer."""
    return ServiceError(
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the"
        " timeout period. Idle connections will be closed.",
        400,
    )


def entity_too_large() -> ServiceError:
    return ServiceError("RequestEntityTooLarge", "Request body is larger than allowed.", 413)
