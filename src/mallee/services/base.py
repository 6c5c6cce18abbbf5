"""What every service provider is: a class with one method per operation, named snake_case.

The chain finds the method with botocore's xform_name (CreateUser -> create_user) and calls it
with the request context and the parsed params; it returns a dict in the operation's output
shape. Errors are raised as ServiceError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError, invalid_action
from mallee.config import Settings
from mallee.store import Store

Params = dict[str, Any]
Result = dict[str, Any]


@dataclass(slots=True)
class Runtime:
    """The process-wide things a provider needs."""

    settings: Settings
    store: Store


class Provider:
    # The botocore service name this provider serves (iam, sts, ec2, empyrean, ...).
    service: ClassVar[str]
    # IAM action prefix: actions are "<prefix>:<OperationName>".
    action_prefix: ClassVar[str]
    # Operations callable without credentials (AWS allows a few, e.g. STS AssumeRoleWithSAML).
    anonymous_operations: ClassVar[frozenset[str]] = frozenset()
    # Operations every authenticated caller may call whatever the policies say
    # (AWS: sts:GetCallerIdentity).
    always_allowed_operations: ClassVar[frozenset[str]] = frozenset()
    # Operations only the cloud administrator (the `eucalyptus` account) may call, whatever
    # the caller's policies say; "*" means every operation of the service (Empyrean).
    admin_operations: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def store(self) -> Store:
        return self.runtime.store

    def action_name(self, ctx: RequestContext) -> str:
        """The IAM action the request needs: its operation's name unless the service's
        differ (S3: HeadObject is s3:GetObject; with a versionId, s3:GetObjectVersion)."""
        return ctx.operation_name

    def prepare(self, ctx: RequestContext) -> None:
        """Called after authorization, before the operation (EC2 answers DryRun here)."""

    def unimplemented(
        self, ctx: RequestContext, authorize: Callable[[RequestContext], None]
    ) -> ServiceError:
        """The error for an operation of the model this provider has no method for. The
        query services answer InvalidAction before any authorization, as for a name they do
        not know (`prepare` would answer an EC2 DryRun as if it could succeed); a provider
        that answers only authorized callers calls `authorize(ctx)` first (S3)."""
        return invalid_action(ctx.operation_name)

    def resources(self, ctx: RequestContext) -> list[str]:
        """ARNs the current operation acts on, for policy evaluation. '*' unless overridden."""
        return ["*"]
