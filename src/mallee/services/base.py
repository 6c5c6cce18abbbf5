"""What every service provider is: a table from operation name to a plain function, plus the
hooks the gateway's chain calls, all declared here with what they do by default.

An operation is `fn(runtime, ctx, params) -> result`: the chain finds it in the provider's
`operations` table by the model's operation name, calls it after authentication, parsing,
authorization and `prepare`, and serializes the dict it returns (the operation's output
shape). Errors are raised as ServiceError, built by the service's own `errors` module.

A service uses another only through `runtime.calls` (the gateway's internal call), never by
importing its modules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from mallee.api.context import Principal, RequestContext
from mallee.api.errors import ServiceError, invalid_action
from mallee.api.http import HttpRequest, HttpResponse
from mallee.config import Settings
from mallee.store import Store

Params = dict[str, Any]
Result = dict[str, Any]
T = TypeVar("T")


class Calls(Protocol):
    """The gateway's internal call: one service's request to another, as `principal`, through
    the same validation, authorization and handler as a request from outside."""

    def call(
        self, service: str, operation: str, params: Params, *, principal: Principal
    ) -> Result: ...


class _NoCalls:
    def call(self, service: str, operation: str, params: Params, *, principal: Principal) -> Result:
        raise RuntimeError("this runtime was built without the gateway's internal call")


@dataclass(slots=True)
class Runtime:
    """The process-wide things an operation needs."""

    settings: Settings
    store: Store
    # Set by the gateway when it builds its chain.
    calls: Calls = field(default_factory=_NoCalls)
    _shared: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """One object per process and key, made on first use (S3's storage backend)."""
        found = self._shared.get(key)
        if found is None:
            with self._lock:
                found = self._shared.get(key)
                if found is None:
                    found = self._shared[key] = make()
        made: T = found
        return made


# Operations named so only read (AWS's naming convention, which every model here follows).
READ_PREFIXES = ("Describe", "List", "Get", "Head")

Operation = Callable[[Runtime, RequestContext, Params], Result]
Operations = Mapping[str, Operation]
Authorize = Callable[[RequestContext], None]


def operations_of(*tables: Operations) -> Operations:
    """A provider's table: the tables of its modules, each operation in exactly one."""
    joined: dict[str, Operation] = {}
    for table in tables:
        repeated = joined.keys() & table.keys()
        if repeated:
            raise ValueError(f"operations in two tables: {sorted(repeated)}")
        joined.update(table)
    return joined


class Provider:
    # The botocore service name this provider serves (iam, sts, ec2, empyrean, ...).
    service: ClassVar[str]
    # IAM action prefix: actions are "<prefix>:<OperationName>".
    action_prefix: ClassVar[str]
    # Operation name -> the function that answers it. An operation of the model missing here
    # is answered by `unimplemented`.
    operations: ClassVar[Operations] = {}
    # Operations callable without credentials (AWS allows a few, e.g. STS AssumeRoleWithSAML).
    anonymous_operations: ClassVar[frozenset[str]] = frozenset()
    # Operations every authenticated caller may call whatever the policies say
    # (AWS: sts:GetCallerIdentity).
    always_allowed_operations: ClassVar[frozenset[str]] = frozenset()
    # Operations only the cloud administrator (the `eucalyptus` account) may call, whatever
    # the caller's policies say; "*" means every operation of the service (Empyrean).
    admin_operations: ClassVar[frozenset[str]] = frozenset()
    # Operations the resource's own policy must allow, whatever identity policies say (a
    # role's trust policy for AssumeRole).
    resource_policy_required: ClassVar[frozenset[str]] = frozenset()
    # Operations only the cloud itself calls (the internal call); from outside they are as
    # unknown as a name no model has.
    internal_operations: ClassVar[frozenset[str]] = frozenset()
    # Operations named as reads that write (STS's Get*Token issue sessions).
    writing_reads: ClassVar[frozenset[str]] = frozenset()
    # Whether the chain hands this service's requests to `answer_unrouted` and
    # `finish_response` (S3: CORS and browser POST uploads), which need a context built before
    # the model routes the request.
    sees_unrouted: ClassVar[bool] = False

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def store(self) -> Store:
        return self.runtime.store

    # Authorization --------------------------------------------------------------------------
    def action_name(self, ctx: RequestContext) -> str:
        """The IAM action the request needs: its operation's name unless the service's
        differ (S3: HeadObject is s3:GetObject; with a versionId, s3:GetObjectVersion)."""
        return ctx.operation_name

    def resources(self, ctx: RequestContext) -> list[str]:
        """ARNs the current operation acts on, for policy evaluation. '*' unless overridden."""
        return ["*"]

    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None] | None:
        """(owner account, policy text or None) of the resource `arn`, or None when this
        service has no resource policies (the owner is then the ARN's account)."""
        return None

    def condition_keys(self, ctx: RequestContext) -> dict[str, list[str]]:
        """Service-specific condition keys of the request (s3:prefix, iam:PolicyARN, ...)."""
        return {}

    def prepare(self, ctx: RequestContext) -> None:
        """Called after authorization, before the operation (EC2 answers DryRun here)."""

    def unimplemented(self, ctx: RequestContext, authorize: Authorize) -> ServiceError:
        """The error for an operation of the model this provider has no function for. The
        query services answer InvalidAction before any authorization, as for a name they do
        not know (`prepare` would answer an EC2 DryRun as if it could succeed); a provider
        that answers only authorized callers calls `authorize(ctx)` first (S3)."""
        return invalid_action(ctx.operation_name)

    # Where the server runs a request ----------------------------------------------------------
    def writes(self, operation: str) -> bool:
        """Whether the operation changes state: the server runs those in worker threads, as a
        write may wait for the database's write lock and must not stall every other request
        meanwhile. Reads stay on the event loop (a thread hand-over costs more than they do)."""
        return not operation.startswith(READ_PREFIXES) or operation in self.writing_reads

    def off_loop(self, request: HttpRequest) -> bool:
        """Whether this routed, whole-bodied request must be handled in a worker thread even
        when it only reads (a password check: scrypt holds a core for tens of milliseconds)."""
        return False

    def answers_at_once(self, request: HttpRequest) -> bool:
        """For a streaming service: whether the request is answered without reading a body, so
        it may be handled on the server's event loop."""
        return False

    # Requests the model does not route (only when `sees_unrouted`) --------------------------
    def answer_unrouted(self, ctx: RequestContext, authorize: Authorize) -> HttpResponse | None:
        """The answer to a request the model has no operation for (a CORS preflight, a browser
        POST upload), or None to route it by the model."""
        return None

    def finish_response(self, ctx: RequestContext, response: HttpResponse) -> None:
        """Adjusts every answer (CORS headers)."""
