"""One sentence for each way a command can fail; the caller prints it and exits non-zero."""

from __future__ import annotations

from typing import Any


class CommandError(Exception):
    """A failure the user can act on; its text is printed after "<prog>: error: "."""

    def __init__(self, message: str, *, code: str | None = None, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def from_botocore(exc: BaseException, endpoint: str | None) -> CommandError | None:
    """The CommandError for a botocore exception, or None when `exc` is not one we know."""
    # botocore is imported here, not at module level: formatting and argument parsing stay
    # usable (and testable) without it.
    from botocore import exceptions as bx

    where = endpoint or "the endpoint"
    if isinstance(exc, bx.ClientError):
        error: dict[str, Any] = exc.response.get("Error") or {}
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or "").strip() or _http_reason(exc.response)
        return CommandError(message, code=code)
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionClosedError):
        return CommandError(
            f"could not connect to {where}: is the cloud running there? "
            "(check the URL variables from your eucarc, or -U)"
        )
    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return CommandError(f"{where} did not answer in time; is the cloud running there?")
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return CommandError(MISSING_CREDENTIALS)
    if isinstance(exc, bx.ParamValidationError):
        return CommandError(" ".join(str(exc).split()), status=2)
    if isinstance(exc, bx.BotoCoreError):
        return CommandError(" ".join(str(exc).split()))
    return None


def _http_reason(response: dict[str, Any]) -> str:
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return f"the service answered HTTP {status} with no message" if status else "unknown error"


MISSING_CREDENTIALS = (
    "no credentials: source your eucarc (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
    "or give -I and -S"
)
