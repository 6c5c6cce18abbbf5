"""Policy documents: parse and validate JSON into immutable, pre-compiled statements.

Validation follows IAM's grammar closely enough that a document IAM would reject is rejected
here with a similar message (PolicyError -> MalformedPolicyDocument at Put time).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from mallee.policy.conditions import Condition, parse_conditions
from mallee.policy.errors import PolicyError

VERSIONS = ("2012-10-17", "2008-10-17")


class PolicyKind(StrEnum):
    """Where a document is used; each kind has its own rules about Principal and Resource."""

    IDENTITY = "identity"  # user/group/role inline or managed policies, session policies
    RESOURCE = "resource"  # bucket policies and the like: Principal required
    TRUST = "trust"  # role trust policies: Principal required, no Resource
    ACCOUNT = "account"  # Eucalyptus account policies (may carry quota "Limit" statements)


Effect = Literal["Allow", "Deny", "Limit"]

_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)


@dataclass(frozen=True, slots=True)
class Principals:
    """A Principal/NotPrincipal element: '*' or a map of type (AWS, Service, ...) to values."""

    wildcard: bool
    values: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str | None
    effect: Effect
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principal: Principals | None
    not_principal: Principals | None
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    id: str | None
    statements: tuple[Statement, ...]
    # Only 2012-10-17 documents substitute ${aws:username} and friends.
    uses_variables: bool
    digest: str


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"Syntax errors in policy. {what} must be a string or a list of strings.")


def _check_actions(actions: tuple[str, ...]) -> None:
    for action in actions:
        if action == "*":
            continue
        vendor, colon, name = action.partition(":")
        if not colon or not vendor or not name or "*" in vendor:
            raise PolicyError(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
            )


def _check_resources(resources: tuple[str, ...]) -> None:
    for resource in resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise PolicyError(f'Resource {resource} must be in ARN format or "*".')
        if resource.startswith("arn:") and resource.count(":") < 5:
            raise PolicyError(f'Resource {resource} must be in ARN format or "*".')


def _principals(value: Any, kind: PolicyKind) -> Principals:
    if value == "*":
        return Principals(True, {})
    if not isinstance(value, dict) or not value:
        raise PolicyError("Invalid principal in policy.")
    parsed: dict[str, tuple[str, ...]] = {}
    for ptype, pvalue in value.items():
        if ptype not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise PolicyError(f"Invalid principal in policy: {ptype}")
        items = _strings(pvalue, "Principal")
        for item in items:
            if ptype == "AWS" and not _valid_aws_principal(item):
                raise PolicyError(f'Invalid principal in policy: "AWS":"{item}"')
        parsed[ptype] = items
    return Principals(False, parsed)


def _valid_aws_principal(item: str) -> bool:
    if item == "*":
        return True
    if len(item) == 12 and item.isdigit():
        return True
    return item.startswith("arn:") and item.count(":") >= 5 and "*" not in item


def _pick(raw: Mapping[str, Any], a: str, b: str, need: bool, msg: str) -> tuple[Any, Any]:
    has_a, has_b = a in raw, b in raw
    if has_a and has_b:
        raise PolicyError(f"Syntax errors in policy. A statement cannot have both {a} and {b}.")
    if need and not has_a and not has_b:
        raise PolicyError(msg)
    return raw.get(a), raw.get(b)


def _effect(raw: Mapping[str, Any], kind: PolicyKind) -> Effect:
    effect = raw.get("Effect")
    if effect is None:
        raise PolicyError("Missing required field Effect")
    if effect in ("Allow", "Deny"):
        return "Allow" if effect == "Allow" else "Deny"
    if effect == "Limit" and kind is PolicyKind.ACCOUNT:
        return "Limit"
    raise PolicyError(f"Invalid effect: {effect}")


def _statement(raw: Any, kind: PolicyKind) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyError("Syntax errors in policy. Statement must be an object.")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"Syntax errors in policy. Unknown field {sorted(unknown)[0]}.")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError("Syntax errors in policy. Sid must be a string.")
    effect = _effect(raw, kind)
    act, not_act = _pick(raw, "Action", "NotAction", True, "Policy statement must contain actions.")
    actions = _strings(act, "Action") if act is not None else None
    not_actions = _strings(not_act, "NotAction") if not_act is not None else None
    _check_actions(actions or not_actions or ())
    res, not_res = _resource_fields(raw, kind)
    pri, not_pri = _principal_fields(raw, kind)
    return Statement(
        sid=sid,
        effect=effect,
        actions=actions,
        not_actions=not_actions,
        resources=res,
        not_resources=not_res,
        principal=_principals(pri, kind) if pri is not None else None,
        not_principal=_principals(not_pri, kind) if not_pri is not None else None,
        conditions=parse_conditions(raw.get("Condition")),
    )


def _resource_fields(
    raw: Mapping[str, Any], kind: PolicyKind
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    if kind is PolicyKind.TRUST:
        if "Resource" in raw or "NotResource" in raw:
            raise PolicyError("Has prohibited field Resource")
        return None, None
    res, not_res = _pick(
        raw, "Resource", "NotResource", True, "Policy statement must contain resources."
    )
    resources = _strings(res, "Resource") if res is not None else None
    not_resources = _strings(not_res, "NotResource") if not_res is not None else None
    _check_resources(resources or not_resources or ())
    return resources, not_resources


def _principal_fields(raw: Mapping[str, Any], kind: PolicyKind) -> tuple[Any, Any]:
    if kind in (PolicyKind.IDENTITY, PolicyKind.ACCOUNT):
        if "Principal" in raw or "NotPrincipal" in raw:
            raise PolicyError("Policy document should not specify a principal.")
        return None, None
    return _pick(
        raw,
        "Principal",
        "NotPrincipal",
        True,
        "Missing required field Principal" if kind is PolicyKind.TRUST else "Missing Principal",
    )


def _no_constants(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have: a document holding one
    # would be stored and handed back to clients whose parsers refuse it.
    raise PolicyError(f"Syntax errors in policy. {name} is not a JSON value.")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        # 1e400 reads as Infinity: the same problem spelt as a number.
        raise PolicyError(f"Syntax errors in policy. {text} is out of range.")
    return number


def _load_json(text: str) -> dict[str, Any]:
    """Strict JSON: no NaN or Infinity, no key given twice."""
    try:
        doc = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
            parse_float=_finite,
        )
    except PolicyError:
        raise
    except (ValueError, RecursionError) as exc:
        raise PolicyError("Syntax errors in policy.") from exc
    if not isinstance(doc, dict):
        raise PolicyError("Syntax errors in policy.")
    return doc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PolicyError(f"Syntax errors in policy. Duplicate key {key}.")
        out[key] = value
    return out


def _build(text: str, kind: PolicyKind) -> Policy:
    doc = _load_json(text)
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"Syntax errors in policy. Unknown field {sorted(unknown)[0]}.")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError("The policy must contain a valid version string")
    pid = doc.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise PolicyError("Syntax errors in policy. Id must be a string.")
    raw_statements = doc.get("Statement")
    if raw_statements is None:
        raise PolicyError("Syntax errors in policy. Missing required field Statement.")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise PolicyError("Syntax errors in policy. Statement must not be empty.")
    statements = tuple(_statement(s, kind) for s in raw_statements)
    digest = hashlib.sha256(text.encode()).hexdigest()
    uses_vars = version == "2012-10-17" and "${" in text
    return Policy(version, pid, statements, uses_vars, digest)


@functools.lru_cache(maxsize=4096)
def _cached(text: str, kind: PolicyKind) -> Policy | PolicyError:
    try:
        return _build(text, kind)
    except PolicyError as err:
        return err


def parse_policy(text: str, kind: PolicyKind = PolicyKind.IDENTITY) -> Policy:
    """Parse and validate; cached by the document text, so stored policies parse once."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyError("Syntax errors in policy.")
    result = _cached(text, kind)
    if isinstance(result, PolicyError):
        raise PolicyError(result.message)
    return result
