"""The IAM policy language: parse/validate documents and evaluate requests against them.

Independent of the wire layer and the store: the IAM service turns PolicyError into
MalformedPolicyDocument and builds AuthzRequests from RequestContexts.
"""

from mallee.policy.conditions import Condition
from mallee.policy.document import Policy, PolicyKind, Principals, Statement, parse_policy
from mallee.policy.errors import PolicyError
from mallee.policy.evaluate import (
    AuthzRequest,
    Decision,
    Outcome,
    PrincipalRef,
    evaluate,
    evaluate_outcome,
    substitute,
)
from mallee.policy.wildcard import compile_wildcard, wildcard_match

__all__ = [
    "AuthzRequest",
    "Condition",
    "Decision",
    "Outcome",
    "Policy",
    "PolicyError",
    "PolicyKind",
    "PrincipalRef",
    "Principals",
    "Statement",
    "compile_wildcard",
    "evaluate",
    "evaluate_outcome",
    "parse_policy",
    "substitute",
    "wildcard_match",
]
