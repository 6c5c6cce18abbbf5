from __future__ import annotations

import json
from typing import Any

from mallee.policy import (
    AuthzRequest,
    Decision,
    PolicyKind,
    PrincipalRef,
    evaluate,
    evaluate_outcome,
    parse_policy,
    substitute,
)


def pol(
    *stmts: dict[str, Any], version: str = "2012-10-17", kind: PolicyKind = PolicyKind.IDENTITY
) -> Any:
    return parse_policy(json.dumps({"Version": version, "Statement": list(stmts)}), kind)


def req(action: str, resource: str = "*", **ctx: str | list[str]) -> AuthzRequest:
    """Keyword `svc_key_name` stands for the condition key `svc:key-name`."""
    context = {
        k.lower().replace("_", ":", 1).replace("_", "-"): (v if isinstance(v, list) else [v])
        for k, v in ctx.items()
    }
    return AuthzRequest(action, resource, context)


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def test_implicit_deny_allow_and_explicit_deny() -> None:
    assert evaluate([], req("s3:GetObject")) is Decision.NOT_APPLICABLE
    assert evaluate([pol(ALLOW_ALL)], req("s3:GetObject")) is Decision.ALLOW
    deny = pol({"Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"})
    assert evaluate([pol(ALLOW_ALL), deny], req("s3:DeleteObject")) is Decision.DENY
    assert evaluate([deny, pol(ALLOW_ALL)], req("s3:DeleteObject")) is Decision.DENY
    assert evaluate([pol(ALLOW_ALL), deny], req("s3:PutObject")) is Decision.ALLOW


def test_action_case_insensitive_resource_case_sensitive() -> None:
    p = pol({"Effect": "Allow", "Action": "S3:getobject", "Resource": "arn:aws:s3:::Bucket/*"})
    assert evaluate([p], req("s3:GetObject", "arn:aws:s3:::Bucket/key")) is Decision.ALLOW
    assert evaluate([p], req("s3:GetObject", "arn:aws:s3:::bucket/key")) is Decision.NOT_APPLICABLE


def test_not_action_and_not_resource() -> None:
    p = pol({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate([p], req("ec2:RunInstances")) is Decision.ALLOW
    assert evaluate([p], req("iam:CreateUser")) is Decision.NOT_APPLICABLE
    q = pol({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::safe/*"})
    assert (
        evaluate([pol(ALLOW_ALL), q], req("s3:GetObject", "arn:aws:s3:::safe/x")) is Decision.ALLOW
    )
    assert (
        evaluate([pol(ALLOW_ALL), q], req("s3:GetObject", "arn:aws:s3:::other/x")) is Decision.DENY
    )


def cond(block: dict[str, Any]) -> Any:
    return pol({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": block})


def test_string_conditions() -> None:
    p = cond({"StringEquals": {"aws:username": ["bob", "alice"]}})
    assert evaluate([p], req("s3:x", aws_username="alice")) is Decision.ALLOW
    assert evaluate([p], req("s3:x", aws_username="Alice")) is Decision.NOT_APPLICABLE
    assert evaluate([p], req("s3:x")) is Decision.NOT_APPLICABLE
    ic = cond({"StringEqualsIgnoreCase": {"aws:username": "BOB"}})
    assert evaluate([ic], req("s3:x", aws_username="bob")) is Decision.ALLOW
    like = cond({"StringLike": {"s3:prefix": "home/*"}})
    assert evaluate([like], req("s3:x", s3_prefix="home/bob")) is Decision.ALLOW
    neg = cond({"StringNotEquals": {"aws:username": "bob"}})
    assert evaluate([neg], req("s3:x", aws_username="eve")) is Decision.ALLOW
    assert evaluate([neg], req("s3:x", aws_username="bob")) is Decision.NOT_APPLICABLE
    assert evaluate([neg], req("s3:x")) is Decision.ALLOW  # absent key: negated operator holds


def test_numeric_date_bool_ip_null() -> None:
    assert (
        evaluate([cond({"NumericLessThan": {"s3:max-keys": "10"}})], req("s3:x", s3_max_keys="5"))
        is Decision.ALLOW
    )
    assert (
        evaluate([cond({"NumericLessThan": {"s3:max-keys": "10"}})], req("s3:x", s3_max_keys="15"))
        is Decision.NOT_APPLICABLE
    )
    assert (
        evaluate([cond({"NumericEquals": {"s3:max-keys": "10"}})], req("s3:x", s3_max_keys="ten"))
        is Decision.NOT_APPLICABLE
    )
    before = cond({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})
    assert evaluate([before], req("s3:x", aws_currenttime="2024-05-01T12:00:00Z")) is Decision.ALLOW
    assert (
        evaluate([before], req("s3:x", aws_currenttime="2031-05-01T12:00:00Z"))
        is Decision.NOT_APPLICABLE
    )
    epoch = cond({"DateGreaterThan": {"aws:EpochTime": "1000"}})
    assert evaluate([epoch], req("s3:x", aws_epochtime="2000")) is Decision.ALLOW
    secure = cond({"Bool": {"aws:SecureTransport": "true"}})
    assert evaluate([secure], req("s3:x", aws_securetransport="TRUE")) is Decision.ALLOW
    assert evaluate([secure], req("s3:x", aws_securetransport="false")) is Decision.NOT_APPLICABLE
    ip = cond({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}})
    assert evaluate([ip], req("s3:x", aws_sourceip="10.9.8.7")) is Decision.ALLOW
    assert evaluate([ip], req("s3:x", aws_sourceip="2001:db8::1")) is Decision.ALLOW
    assert evaluate([ip], req("s3:x", aws_sourceip="11.0.0.1")) is Decision.NOT_APPLICABLE
    assert evaluate([ip], req("s3:x", aws_sourceip="garbage")) is Decision.NOT_APPLICABLE
    notip = cond({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert evaluate([notip], req("s3:x", aws_sourceip="11.0.0.1")) is Decision.ALLOW
    null = cond({"Null": {"aws:TokenIssueTime": "true"}})
    assert evaluate([null], req("s3:x")) is Decision.ALLOW
    assert evaluate([null], req("s3:x", aws_tokenissuetime="x")) is Decision.NOT_APPLICABLE


def test_if_exists_and_set_operators() -> None:
    p = cond({"StringEqualsIfExists": {"ec2:instancetype": "t2.micro"}})
    assert evaluate([p], req("ec2:x")) is Decision.ALLOW
    assert evaluate([p], req("ec2:x", ec2_instancetype="m5.large")) is Decision.NOT_APPLICABLE
    all_of = cond({"ForAllValues:StringEquals": {"aws:tagkeys": ["a", "b"]}})
    assert evaluate([all_of], req("x:y", aws_tagkeys=["a", "b"])) is Decision.ALLOW
    assert evaluate([all_of], req("x:y", aws_tagkeys=["a", "c"])) is Decision.NOT_APPLICABLE
    assert evaluate([all_of], req("x:y")) is Decision.ALLOW  # vacuous truth, as IAM
    any_of = cond({"ForAnyValue:StringLike": {"aws:tagkeys": "env*"}})
    assert evaluate([any_of], req("x:y", aws_tagkeys=["team", "environment"])) is Decision.ALLOW
    assert evaluate([any_of], req("x:y", aws_tagkeys=["team"])) is Decision.NOT_APPLICABLE
    assert evaluate([any_of], req("x:y")) is Decision.NOT_APPLICABLE


def test_multiple_conditions_are_anded() -> None:
    p = cond({"StringEquals": {"aws:username": "bob"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert evaluate([p], req("s3:x", aws_username="bob", aws_sourceip="10.0.0.1")) is Decision.ALLOW
    assert (
        evaluate([p], req("s3:x", aws_username="bob", aws_sourceip="9.0.0.1"))
        is Decision.NOT_APPLICABLE
    )


def test_arn_conditions() -> None:
    p = cond({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:topic-*"}})
    assert (
        evaluate([p], req("s3:x", aws_sourcearn="arn:aws:sns:eu-1:123456789012:topic-a"))
        is Decision.ALLOW
    )
    assert (
        evaluate([p], req("s3:x", aws_sourcearn="arn:aws:sns:eu-1:999999999999:topic-a"))
        is Decision.NOT_APPLICABLE
    )
    n = cond({"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:eu-1:123456789012:t"}})
    assert (
        evaluate([n], req("s3:x", aws_sourcearn="arn:aws:sns:eu-1:123456789012:u"))
        is Decision.ALLOW
    )


def test_policy_variables() -> None:
    p = pol(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}
    )
    assert (
        evaluate([p], req("s3:GetObject", "arn:aws:s3:::home/bob/f", aws_username="bob"))
        is Decision.ALLOW
    )
    assert (
        evaluate([p], req("s3:GetObject", "arn:aws:s3:::home/eve/f", aws_username="bob"))
        is Decision.NOT_APPLICABLE
    )
    # No username (a role session): the variable matches nothing.
    assert evaluate([p], req("s3:GetObject", "arn:aws:s3:::home//f")) is Decision.NOT_APPLICABLE
    # 2008-10-17 documents take ${...} literally.
    old = pol(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"},
        version="2008-10-17",
    )
    assert (
        evaluate(
            [old], req("s3:GetObject", "arn:aws:s3:::home/${aws:username}/x", aws_username="bob")
        )
        is Decision.ALLOW
    )
    assert substitute("a${*}b${?}${$}", {}) == "a*b?$"
    assert substitute("${aws:username, 'anon'}", {}) == "anon"


def test_resource_policy_principals() -> None:
    acct = "111122223333"
    bob = PrincipalRef(acct, (f"arn:aws:iam::{acct}:user/bob",))
    other = PrincipalRef("444455556666", ("arn:aws:iam::444455556666:user/eve",))

    def rp(principal: Any, effect: str = "Allow") -> Any:
        return pol(
            {
                "Effect": effect,
                "Principal": principal,
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            },
            kind=PolicyKind.RESOURCE,
        )

    r = lambda who: AuthzRequest("s3:GetObject", "arn:aws:s3:::b/k", {}, who)  # noqa: E731
    direct = evaluate_outcome([rp({"AWS": f"arn:aws:iam::{acct}:user/bob"})], r(bob))
    assert direct.decision is Decision.ALLOW and direct.direct
    account = evaluate_outcome([rp({"AWS": acct})], r(bob))
    assert account.decision is Decision.ALLOW and not account.direct
    assert evaluate_outcome([rp({"AWS": acct})], r(other)).decision is Decision.NOT_APPLICABLE
    assert evaluate_outcome([rp("*")], r(other)).direct
    anon = PrincipalRef("", anonymous=True)
    assert evaluate_outcome([rp({"AWS": acct})], r(anon)).decision is Decision.NOT_APPLICABLE
    notp = pol(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": f"arn:aws:iam::{acct}:user/bob"},
            "Action": "s3:*",
            "Resource": "*",
        },
        kind=PolicyKind.RESOURCE,
    )
    assert evaluate([notp], r(other)) is Decision.DENY
    assert evaluate([notp], r(bob)) is Decision.NOT_APPLICABLE
    svc = pol(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
        kind=PolicyKind.TRUST,
    )
    ec2 = PrincipalRef("", service="ec2.amazonaws.com")
    assert (
        evaluate([svc], AuthzRequest("sts:AssumeRole", "arn:aws:iam::1:role/r", {}, ec2))
        is Decision.ALLOW
    )
