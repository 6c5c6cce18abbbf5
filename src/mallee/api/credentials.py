"""Secrets behind access keys, as the authenticator needs them. Looked up by the IAM service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mallee.api.context import Principal


@dataclass(frozen=True, slots=True)
class Credential:
    access_key_id: str
    secret_key: str
    principal: Principal
    # Temporary credentials (ASIA...) carry a session token the request must present.
    session_token: str | None = None
    # Epoch seconds after which the credential is refused (temporary credentials).
    expires_at: float | None = None


# Returns None for an unknown or inactive access key.
CredentialLookup = Callable[[str], Credential | None]
