"""Policy evaluation: explicit Deny wins, then Allow, else implicit deny (NOT_APPLICABLE)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from mallee.policy.conditions import condition_holds
from mallee.policy.document import Policy, Principals, Statement
from mallee.policy.wildcard import wildcard_match

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# Stands in for a variable whose key is absent: no ARN or value contains NUL, so nothing matches.
_MISSING = "\x00"


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True, slots=True)
class PrincipalRef:
    """How a resource policy's Principal element can name the caller."""

    account_id: str
    # ARNs naming this caller specifically (user ARN; role ARN and session ARN for a session).
    arns: tuple[str, ...] = ()
    anonymous: bool = False
    # Service principals (ec2.amazonaws.com) when the cloud acts on a service's behalf.
    service: str | None = None


@dataclass(frozen=True, slots=True)
class AuthzRequest:
    action: str  # "iam:CreateUser"
    resource: str  # an ARN or "*"
    # Condition keys, lower-cased, each with its values (aws:username, aws:sourceip, ...).
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    principal: PrincipalRef | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    # A resource-policy Allow that named the caller itself (or '*'), not only its account;
    # in the same account such a grant suffices without an identity-policy Allow.
    direct: bool = False


def substitute(text: str, context: Mapping[str, Sequence[str]]) -> str:
    """Replace ${aws:username}, ${*}, ${?}, ${$} and ${key, 'default'} from the context."""
    if "${" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body in ("*", "?", "$"):
            return body
        key, comma, default = body.partition(",")
        values = context.get(key.strip().lower())
        if values:
            return values[0]
        if comma:
            return default.strip().strip("'\"")
        return _MISSING

    return _VARIABLE.sub(one, text)


def _action_matches(stmt: Statement, action: str) -> bool:
    if stmt.actions is not None:
        return any(wildcard_match(p, action, ignore_case=True) for p in stmt.actions)
    assert stmt.not_actions is not None
    return not any(wildcard_match(p, action, ignore_case=True) for p in stmt.not_actions)


def _resource_matches(stmt: Statement, resource: str, req: AuthzRequest, subst: bool) -> bool:
    patterns = stmt.resources if stmt.resources is not None else stmt.not_resources
    if patterns is None:
        return True  # trust policies carry no Resource: the role itself is implied
    hit = False
    for p in patterns:
        pattern = substitute(p, req.context) if subst else p
        if wildcard_match(pattern, resource):
            hit = True
            break
    return hit if stmt.resources is not None else not hit


def _names(principals: Principals, who: PrincipalRef) -> tuple[bool, bool]:
    """(matches, direct): does the element name the caller, and specifically?"""
    if principals.wildcard:
        return True, True
    for value in principals.values.get("AWS", ()):
        if value == "*":
            return True, True
        if who.anonymous:
            continue
        if value in who.arns:
            return True, True
        if value in (who.account_id, f"arn:aws:iam::{who.account_id}:root"):
            return True, False
    if who.service is not None and who.service in principals.values.get("Service", ()):
        return True, True
    return False, False


def _principal_matches(stmt: Statement, who: PrincipalRef | None) -> tuple[bool, bool]:
    if stmt.principal is None and stmt.not_principal is None:
        return True, False
    if who is None:
        return False, False
    if stmt.principal is not None:
        return _names(stmt.principal, who)
    assert stmt.not_principal is not None
    named, _ = _names(stmt.not_principal, who)
    return not named, True


def _conditions_hold(stmt: Statement, req: AuthzRequest, subst: bool) -> bool:
    for cond in stmt.conditions:
        values = tuple(substitute(v, req.context) for v in cond.values) if subst else None
        if not condition_holds(cond, req.context, values):
            return False
    return True


def statement_applies(stmt: Statement, req: AuthzRequest, subst: bool) -> tuple[bool, bool]:
    """(applies, direct) for one statement."""
    if not _action_matches(stmt, req.action):
        return False, False
    if not _resource_matches(stmt, req.resource, req, subst):
        return False, False
    named, direct = _principal_matches(stmt, req.principal)
    if not named or not _conditions_hold(stmt, req, subst):
        return False, False
    return True, direct


def evaluate_outcome(policies: Iterable[Policy], req: AuthzRequest) -> Outcome:
    allowed = False
    direct = False
    for policy in policies:
        for stmt in policy.statements:
            if stmt.effect == "Limit":
                continue
            applies, named = statement_applies(stmt, req, policy.uses_variables)
            if not applies:
                continue
            if stmt.effect == "Deny":
                return Outcome(Decision.DENY)
            allowed = True
            direct = direct or named
    return Outcome(Decision.ALLOW if allowed else Decision.NOT_APPLICABLE, direct)


def evaluate(policies: Iterable[Policy], req: AuthzRequest) -> Decision:
    return evaluate_outcome(policies, req).decision
