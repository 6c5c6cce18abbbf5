"""Authorization: may this principal perform this action on these resources?

Order, as IAM: an explicit Deny anywhere wins; cross-account access needs both an identity-side
Allow and an Allow in the resource owner's policy; in the caller's own account either an
identity Allow or a resource-policy Allow that names the caller itself suffices. Permissions
boundaries, session policies (AssumeRole Policy) and Eucalyptus account policies only narrow
what identity policies allow.
The root of the `eucalyptus` account is the cloud admin and may do anything anywhere; other
principals of that account act across accounts with their identity policies alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from mallee.api.context import Principal, RequestContext
from mallee.api.errors import ServiceError
from mallee.identity.arns import parse_arn
from mallee.identity.credentials import record_use
from mallee.identity.principal_policies import Identity, load_account_policies, load_identity
from mallee.identity.session_scope import check_session_token_scope
from mallee.policy import (
    AuthzRequest,
    Decision,
    Outcome,
    Policy,
    PolicyError,
    PolicyKind,
    PrincipalRef,
    evaluate,
    evaluate_outcome,
    parse_policy,
)
from mallee.store import Store

log = logging.getLogger(__name__)

# Policy changes reach every process within this many seconds (IAM itself is eventually
# consistent over seconds); keeps authorization to dictionary lookups on the hot path.
POLICY_CACHE_SECONDS = 1.0
# How often one process writes an access key's last-used record.
LAST_USED_INTERVAL = 60.0


_generation = 0


def policies_changed() -> None:
    """Called after every IAM write in this process: cached answers here are stale at once."""
    global _generation
    _generation += 1


class _TtlCache:
    def __init__(self, ttl: float, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._data: dict[Any, tuple[float, int, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._data.get(key)
        generation = _generation
        if hit is not None and hit[0] > now and hit[1] == generation:
            return hit[2]
        value = load()
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = (now + self.ttl, generation, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Guarded(Protocol):
    """What the authorizer needs of a service: its actions, resources and policies (each
    service's Provider, whose hooks are documented in services/base.py)."""

    @property
    def action_prefix(self) -> str: ...
    @property
    def always_allowed_operations(self) -> frozenset[str]: ...
    @property
    def admin_operations(self) -> frozenset[str]: ...
    @property
    def resource_policy_required(self) -> frozenset[str]: ...

    def action_name(self, ctx: RequestContext) -> str: ...
    def resources(self, ctx: RequestContext) -> list[str]: ...
    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None] | None: ...
    def condition_keys(self, ctx: RequestContext) -> dict[str, list[str]]: ...


class OneAction:
    """Guarded for one action on given resources, asked by a service in the middle of its own
    operation (EC2's RunInstances asks iam:PassRole for the role an instance will carry)."""

    always_allowed_operations: frozenset[str] = frozenset()
    admin_operations: frozenset[str] = frozenset()
    resource_policy_required: frozenset[str] = frozenset()

    def __init__(self, action: str, arns: list[str]) -> None:
        self.action_prefix, _, self.action = action.partition(":")
        self.arns = arns

    def action_name(self, ctx: RequestContext) -> str:
        return self.action

    def resources(self, ctx: RequestContext) -> list[str]:
        return list(self.arns)

    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None] | None:
        return None

    def condition_keys(self, ctx: RequestContext) -> dict[str, list[str]]:
        return {}


def denied(
    principal: Principal, action: str, resource: str, explicit: bool = False
) -> ServiceError:
    suffix = " with an explicit deny" if explicit else ""
    detail = (
        f"User: {principal.arn} is not authorized to perform: {action} on resource: "
        f"{resource}{suffix}"
    )
    if action.startswith("ec2:"):
        # EC2 spells a denial its own way, and tools (Terraform, the CLI) look for its code;
        # the same error as EC2's errors.unauthorized_operation, which this layer cannot import.
        return ServiceError(
            "UnauthorizedOperation",
            f"You are not authorized to perform this operation. {detail}",
            403,
        )
    return ServiceError("AccessDenied", detail, 403)


def _parse_resource_policy(text: str) -> Policy | None:
    # A statement without Resource (role trust policies) applies to the resource itself.
    for kind in (PolicyKind.RESOURCE, PolicyKind.TRUST):
        try:
            return parse_policy(text, kind)
        except PolicyError:
            continue
    return None


def _session_policy(text: str | None) -> Policy | None:
    if not text:
        return None
    try:
        return parse_policy(text, PolicyKind.IDENTITY)
    except PolicyError:
        return None


def _principal_type(p: Principal) -> str:
    return {"root": "Account", "user": "User", "assumed-role": "AssumedRole"}.get(
        p.kind, "FederatedUser"
    )


def request_context(ctx: RequestContext) -> dict[str, list[str]]:
    """The global condition keys IAM defines, lower-cased, plus a few per-service ones."""
    p = ctx.principal
    moment = datetime.now(UTC)
    keys: dict[str, list[str]] = {
        "aws:currenttime": [moment.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(moment.timestamp()))],
        "aws:principalarn": [p.arn],
        "aws:principalaccount": [p.account_id],
        "aws:principaltype": [_principal_type(p)],
        "aws:userid": [p.user_id],
        "aws:requestedregion": [ctx.region],
        "aws:securetransport": [
            "true" if ctx.http.headers.get("x-forwarded-proto") == "https" else "false"
        ],
    }
    if p.kind == "user":
        keys["aws:username"] = [p.name]
    if ctx.http.remote_addr:
        keys["aws:sourceip"] = [ctx.http.remote_addr]
    if ctx.service == "sts":
        for param, key in (
            ("ExternalId", "sts:externalid"),
            ("RoleSessionName", "sts:rolesessionname"),
        ):
            value = ctx.params.get(param)
            if isinstance(value, str):
                keys[key] = [value]
    return keys


class Authorizer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._identities = _TtlCache(POLICY_CACHE_SECONDS)
        self._account_policies = _TtlCache(POLICY_CACHE_SECONDS)
        self._last_used: dict[str, float] = {}

    def authorize(self, ctx: RequestContext, provider: Guarded) -> None:
        p = ctx.principal
        op = ctx.operation_name
        # First: what GetSessionToken's credentials may call no policy widens, not even root's.
        check_session_token_scope(p, ctx.service, op)
        if op in provider.always_allowed_operations:
            return
        action = f"{provider.action_prefix}:{provider.action_name(ctx)}"
        admin_ops = provider.admin_operations
        if ("*" in admin_ops or op in admin_ops) and not p.is_cloud_admin:
            raise denied(p, action, "*")
        self._note_key_use(ctx)
        if p.kind == "root" and p.is_cloud_admin:
            return
        resources = provider.resources(ctx) or ["*"]
        if p.kind == "service":
            for arn in resources:
                self._check_service(ctx, action, arn, provider)
            return
        identity = self._identity(p)
        bounds = self._bounds(p)
        context = request_context(ctx)
        # Service-specific condition keys (s3:prefix, ...) come from the provider.
        context.update(provider.condition_keys(ctx))
        required = op in provider.resource_policy_required
        for arn in resources:
            self._check(ctx, action, arn, identity, bounds, provider, context, required)

    def _identity(self, p: Principal) -> Identity:
        key = (self.store.url, p.kind, p.entity_id, p.arn)
        found: Identity = self._identities.get(key, lambda: load_identity(self.store, p))
        return found

    def _bounds(self, p: Principal) -> Sequence[Policy]:
        if p.is_cloud_admin:
            return ()
        key = (self.store.url, p.account_id)
        found: Sequence[Policy] = self._account_policies.get(
            key, lambda: load_account_policies(self.store, p.account_id)
        )
        return found

    def _owner_and_policy(
        self, ctx: RequestContext, arn: str, provider: Guarded
    ) -> tuple[str, Policy | None]:
        found = provider.resource_policy(ctx, arn)
        if found is not None:
            owner, text = found
            return owner, _parse_resource_policy(text) if text else None
        parts = parse_arn(arn)
        owner = parts[3] if parts is not None and parts[3] else ctx.principal.account_id
        return owner, None

    def _check(
        self,
        ctx: RequestContext,
        action: str,
        arn: str,
        identity: Identity,
        bounds: Sequence[Policy],
        provider: Guarded,
        context: dict[str, list[str]],
        required: bool,
    ) -> None:
        """`required`: the resource policy must allow (role trust policies for AssumeRole)."""
        p = ctx.principal
        ref = PrincipalRef(p.account_id, identity.arns)
        req = AuthzRequest(action, arn, context, ref)
        owner, res_policy = self._owner_and_policy(ctx, arn, provider)
        res = (
            evaluate_outcome([res_policy], req) if res_policy else Outcome(Decision.NOT_APPLICABLE)
        )
        if res.decision is Decision.DENY:
            raise denied(p, action, arn, explicit=True)
        if required and res.decision is not Decision.ALLOW:
            raise denied(p, action, arn)
        if bounds and evaluate(bounds, req) is not Decision.ALLOW:
            raise denied(p, action, arn)
        mine = self._identity_decision(p, identity, req)
        if mine is Decision.DENY:
            raise denied(p, action, arn, explicit=True)
        if owner == p.account_id or p.is_cloud_admin or owner in ("", "*"):
            allowed = mine is Decision.ALLOW or (res.decision is Decision.ALLOW and res.direct)
        else:
            allowed = mine is Decision.ALLOW and res.decision is Decision.ALLOW
        if not allowed:
            raise denied(p, action, arn)

    def _check_service(self, ctx: RequestContext, action: str, arn: str, provider: Guarded) -> None:
        """A service principal has no identity policies: the resource's own policy must name
        it (a role's trust policy naming ec2.amazonaws.com)."""
        p = ctx.principal
        req = AuthzRequest(action, arn, request_context(ctx), PrincipalRef("", service=p.name))
        _, res_policy = self._owner_and_policy(ctx, arn, provider)
        decision = evaluate([res_policy], req) if res_policy else Decision.NOT_APPLICABLE
        if decision is not Decision.ALLOW:
            raise denied(p, action, arn, explicit=decision is Decision.DENY)

    def _identity_decision(self, p: Principal, identity: Identity, req: AuthzRequest) -> Decision:
        decision = Decision.ALLOW if p.kind == "root" else evaluate(identity.policies, req)
        session = _session_policy(p.session_policy)
        # The permissions boundary and the session policy each only narrow what identity
        # policies allow: the effective permissions are the intersection.
        for limits in (identity.boundary, None if session is None else (session,)):
            if limits is None or decision is Decision.DENY:
                continue
            limit = evaluate(limits, req)
            if limit is Decision.DENY:
                return Decision.DENY
            if limit is not Decision.ALLOW:
                decision = Decision.NOT_APPLICABLE
        return decision

    def _note_key_use(self, ctx: RequestContext) -> None:
        key_id = ctx.principal.access_key_id
        if not key_id.startswith("AKIA"):
            return
        now = time.monotonic()
        last = self._last_used.get(key_id)
        if last is not None and now - last < LAST_USED_INTERVAL:
            return
        self._last_used[key_id] = now
        try:
            with self.store.session() as s:
                record_use(
                    s, key_id, ctx.service, ctx.region, datetime.now(UTC).replace(microsecond=0)
                )
        except Exception:  # the request must not fail because bookkeeping did
            log.warning("could not record last use of %s", key_id, exc_info=True)
