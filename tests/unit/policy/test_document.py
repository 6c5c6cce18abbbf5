from __future__ import annotations

import json
from typing import Any

import pytest

from mallee.policy import PolicyError, PolicyKind, parse_policy


def doc(**stmt: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def test_single_statement_object_and_lists() -> None:
    p = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": {
                    "Effect": "Allow",
                    "Action": ["s3:Get*", "s3:List*"],
                    "Resource": "*",
                },
            }
        )
    )
    assert len(p.statements) == 1
    assert p.statements[0].actions == ("s3:Get*", "s3:List*")


def test_parsed_documents_are_cached() -> None:
    text = doc(Effect="Allow", Action="ec2:*", Resource="*")
    assert parse_policy(text) is parse_policy(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "Syntax errors in policy."),
        ("[]", "Syntax errors in policy."),
        (json.dumps({"Version": "2020-01-01", "Statement": []}), "valid version"),
        (json.dumps({"Version": "2012-10-17"}), "Statement"),
        (doc(Action="s3:*", Resource="*"), "Missing required field Effect"),
        (doc(Effect="Maybe", Action="s3:*", Resource="*"), "Invalid effect"),
        (doc(Effect="Allow", Resource="*"), "must contain actions"),
        (doc(Effect="Allow", Action="s3:*"), "must contain resources"),
        (doc(Effect="Allow", Action="getobject", Resource="*"), "prefaced by a vendor"),
        (doc(Effect="Allow", Action="s3:*", Resource="bucket"), "ARN format"),
        (doc(Effect="Allow", Action="s3:*", NotAction="s3:Get*", Resource="*"), "both"),
        (doc(Effect="Allow", Action="s3:*", Resource="*", Principal="*"), "principal"),
        (doc(Effect="Allow", Action="s3:*", Resource="*", Bogus=1), "Unknown field"),
        (
            doc(
                Effect="Allow",
                Action="s3:*",
                Resource="*",
                Condition={"StringSortOf": {"aws:username": "x"}},
            ),
            "Invalid Condition type",
        ),
        (doc(Effect="Limit", Action="s3:*", Resource="*"), "Invalid effect"),
        ('{"Statement": [], "Statement": []}', "Duplicate"),
    ],
)
def test_identity_policy_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as exc:
        parse_policy(text)
    assert message in exc.value.message


def test_trust_policy_rules() -> None:
    ok = doc(Effect="Allow", Principal={"AWS": "123456789012"}, Action="sts:AssumeRole")
    assert parse_policy(ok, PolicyKind.TRUST).statements[0].principal is not None
    with pytest.raises(PolicyError):
        parse_policy(doc(Effect="Allow", Action="sts:AssumeRole"), PolicyKind.TRUST)
    with pytest.raises(PolicyError):
        parse_policy(
            doc(Effect="Allow", Principal="*", Action="sts:AssumeRole", Resource="*"),
            PolicyKind.TRUST,
        )
    with pytest.raises(PolicyError):
        parse_policy(
            doc(Effect="Allow", Principal={"AWS": "arn:aws:iam::*:root"}, Action="sts:AssumeRole"),
            PolicyKind.TRUST,
        )
    with pytest.raises(PolicyError):
        parse_policy(
            doc(Effect="Allow", Principal={"Alien": "x"}, Action="sts:AssumeRole"), PolicyKind.TRUST
        )


def test_account_policies_accept_limit() -> None:
    p = parse_policy(
        doc(
            Effect="Limit",
            Action="ec2:RunInstances",
            Resource="*",
            Condition={"NumericLessThanEquals": {"ec2:quota-vminstancenumber": "5"}},
        ),
        PolicyKind.ACCOUNT,
    )
    assert p.statements[0].effect == "Limit"


def test_condition_values_normalised() -> None:
    p = parse_policy(
        doc(
            Effect="Allow",
            Action="s3:*",
            Resource="*",
            Condition={
                "Bool": {"aws:SecureTransport": True},
                "NumericLessThan": {"s3:max-keys": 10},
            },
        )
    )
    conds = {c.key: c.values for c in p.statements[0].conditions}
    assert conds == {"aws:securetransport": ("true",), "s3:max-keys": ("10",)}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
@pytest.mark.parametrize("kind", [PolicyKind.IDENTITY, PolicyKind.RESOURCE])
def test_numbers_json_cannot_hold_are_refused(number: str, kind: PolicyKind) -> None:
    principal = '"Principal": "*", ' if kind is PolicyKind.RESOURCE else ""
    text = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        + principal
        + '"Action": "s3:ListBucket", "Resource": "*", '
        + '"Condition": {"NumericLessThan": {"s3:max-keys": '
        + number
        + "}}}]}"
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, kind)
    assert caught.value.message.startswith("Syntax errors in policy.")
    # A finite number in the same place is fine.
    parse_policy(text.replace(number, "10.5"), kind)
