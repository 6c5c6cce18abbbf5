"""What credentials from GetSessionToken may call, whatever policies say."""

from __future__ import annotations

from mallee.api.context import Principal
from mallee.api.errors import access_denied

# AWS: credentials from GetSessionToken without MFA (mallee has no MFA) may call no IAM
# operation, and of STS only these; otherwise a stolen short-lived token could mint itself a
# permanent access key.
_SESSION_TOKEN_STS = frozenset({"AssumeRole", "GetCallerIdentity"})


def check_session_token_scope(p: Principal, service: str, operation: str) -> None:
    """AccessDenied when `p` holds GetSessionToken credentials and the operation is not one
    they may call."""
    if p.issued_by != "GetSessionToken":
        return
    if service == "iam" or (service == "sts" and operation not in _SESSION_TOKEN_STS):
        raise access_denied(
            f"User: {p.arn} is not authorized to perform: {service}:{operation} with "
            "credentials from GetSessionToken: they may call no IAM operation, and of STS "
            "only AssumeRole and GetCallerIdentity."
        )
