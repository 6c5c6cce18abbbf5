"""IAM's operations as the gateway calls them: each handler `(session, scope, params)` runs in
one transaction (a read, or a write after which this process's cached policies are stale) in
the account the request acts in."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from mallee.api.context import RequestContext
from mallee.identity.authz import policies_changed
from mallee.services.base import Operation, Params, Result, Runtime
from mallee.services.iam.scope import Scope, scope_for

Handler = Callable[[Session, Scope, Params], Result]


def writes(handler: Handler) -> Operation:
    def operation(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
        try:
            with rt.store.session() as s:
                return handler(s, scope_for(s, ctx.principal, params), params)
        finally:
            policies_changed()

    return operation


def reads(handler: Handler) -> Operation:
    def operation(rt: Runtime, ctx: RequestContext, params: Params) -> Result:
        with rt.store.read() as s:
            return handler(s, scope_for(s, ctx.principal, params), params)

    return operation
