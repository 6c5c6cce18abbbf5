"""Who is calling and what they asked for: the values every provider method receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mallee.api.http import HttpRequest

if TYPE_CHECKING:
    from botocore.model import OperationModel

# "service": a service of the cloud acting on its own behalf through the internal call
# (ec2.amazonaws.com assuming an instance's role).
PrincipalKind = Literal["root", "user", "assumed-role", "federated-user", "anonymous", "service"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    `arn` is what GetCallerIdentity returns; `user_id` its UserId (AIDA.. for users, the account
    id for root, AROA..:session for an assumed role). `entity_id` is the store id of the user or
    role whose policies apply (None for root and anonymous).
    """

    account_id: str
    arn: str
    user_id: str
    kind: PrincipalKind
    name: str
    access_key_id: str = ""
    entity_id: str | None = None
    # Set for temporary credentials (GetSessionToken, AssumeRole).
    session_token: str | None = None
    # For temporary credentials, the STS operation that issued them: what they may call
    # depends on it (GetSessionToken's may not call IAM).
    issued_by: str | None = None
    # Inline session policy passed to AssumeRole/GetFederationToken: further limits the session.
    session_policy: str | None = None
    # The cloud administrator: any principal of the `eucalyptus` system account.
    is_cloud_admin: bool = False


ANONYMOUS = Principal(
    account_id="", arn="*", user_id="anonymous", kind="anonymous", name="anonymous"
)


@dataclass(slots=True)
class RequestContext:
    request_id: str
    service: str  # botocore service name: iam, sts, ec2, s3, cloudwatch, empyrean, ...
    region: str
    http: HttpRequest
    principal: Principal = ANONYMOUS
    operation: OperationModel | None = None
    params: dict[str, Any] = field(default_factory=dict)
    protocol: str = ""
    # Set only by the gateway's internal call: one part of the cloud asking a service, never a
    # request that came over HTTP (the only way to an operation in `internal_operations`).
    internal: bool = False

    @property
    def operation_name(self) -> str:
        return self.operation.name if self.operation is not None else ""
