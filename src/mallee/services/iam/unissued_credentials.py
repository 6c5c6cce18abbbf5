"""The user credentials mallee does not issue: SSH public keys, service-specific credentials,
MFA devices and signing certificates. No operation makes one, so a user has none, and each list
is answered as AWS answers it for a user without any (tools that delete a user list them all
first, to remove each)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mallee.services.base import Operations
from mallee.services.iam.common import paginate_list
from mallee.services.iam.lookups import target_user
from mallee.services.iam.scope import Scope
from mallee.services.iam.transactions import reads


def _none_of(s: Session, scope: Scope, params: dict[str, Any], member: str) -> dict[str, Any]:
    # The user (UserName, else the caller) must exist; paging parameters are checked as for
    # any list.
    target_user(s, scope, params)
    none: list[str] = []
    items, page = paginate_list(none, params, str)
    return {member: list(items), **page}


def list_ssh_public_keys(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    return _none_of(s, scope, params, "SSHPublicKeys")


def list_service_specific_credentials(
    s: Session, scope: Scope, params: dict[str, Any]
) -> dict[str, Any]:
    return _none_of(s, scope, params, "ServiceSpecificCredentials")


def list_mfa_devices(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    return _none_of(s, scope, params, "MFADevices")


def list_signing_certificates(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    return _none_of(s, scope, params, "Certificates")


OPERATIONS: Operations = {
    "ListSSHPublicKeys": reads(list_ssh_public_keys),
    "ListServiceSpecificCredentials": reads(list_service_specific_credentials),
    "ListMFADevices": reads(list_mfa_devices),
    "ListSigningCertificates": reads(list_signing_certificates),
}
