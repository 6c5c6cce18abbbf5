"""The security matrix's own logic, without a cloud: the requests it builds from the models,
and which answers it counts as violations."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mallee.api.models import load_service_model
from mallee.gateway.catalog import SERVICES
from tests.security.matrix_expect import (
    ADMIN_ONLY,
    ALWAYS_ALLOWED,
    ANONYMOUS_ALLOWED,
    PER_ITEM,
    Outcome,
    violation,
)
from tests.security.matrix_requests import build_params

pytestmark = pytest.mark.nodb


def params(service: str, operation: str, named: dict[str, Any] | None = None) -> dict[str, Any]:
    model = load_service_model(service).operation_model(operation)
    groups = (("KeyPairId", "KeyName"),)
    return build_params(model, named or {}, groups)


def test_required_members_are_filled_within_their_constraints() -> None:
    assert params("iam", "CreateUser") == {"UserName": "matrix"}
    found = params("iam", "GetPolicyVersion")
    shape = load_service_model("iam").operation_model("GetPolicyVersion").input_shape
    pattern = shape.members["VersionId"].metadata["pattern"]
    assert re.fullmatch(pattern, found["VersionId"]), found
    run = params("ec2", "RunInstances")
    assert run["MinCount"] == 1 and run["MaxCount"] == 1


def test_a_required_structure_with_nothing_required_still_carries_a_member() -> None:
    found = params("ec2", "CreateDhcpOptions")
    assert found["DhcpConfigurations"] and all(found["DhcpConfigurations"]), found


def test_named_values_by_operation_type_and_member() -> None:
    named = {
        "Bucket": "b",
        "Key": "k",
        "ListParts.Key": "upload",
        "Tagging:string": "a=b",
        "Tagging:structure": {"TagSet": []},
        "UploadId": "u",
    }
    assert params("s3", "PutObject", named)["Tagging"] == "a=b"
    assert params("s3", "PutBucketTagging", named)["Tagging"] == {"TagSet": []}
    assert params("s3", "ListParts", named)["Key"] == "upload"
    assert params("s3", "GetObject", named) == {"Bucket": "b", "Key": "k"}


def test_a_named_value_of_the_wrong_kind_is_not_used() -> None:
    # InstanceType is a string in RunInstances, a structure in ModifyInstanceAttribute.
    named = {"InstanceId": "i-1", "InstanceType": "m1.small"}
    assert params("ec2", "RunInstances", named)["InstanceType"] == "m1.small"
    assert "InstanceType" not in params("ec2", "ModifyInstanceAttribute", named)


def test_alternatives_name_a_thing_one_way_in_the_groups_order() -> None:
    named = {"KeyName": "mine", "KeyPairId": "key-1"}
    assert params("ec2", "DeleteKeyPair", named) == {"KeyPairId": "key-1"}


def outcome(
    principal: str,
    status: int,
    code: str = "",
    *,
    service: str = "iam",
    operation: str = "CreateUser",
    **more: Any,
) -> Outcome:
    return Outcome(service, operation, principal, status, code, "", **more)


@pytest.mark.parametrize(
    ("answer", "style", "wrong"),
    [
        (outcome("anonymous", 403, "MissingAuthenticationToken", signed=False), "query", False),
        (outcome("anonymous", 400, "ValidationError", signed=False), "query", True),
        (outcome("anonymous", 400, "MissingParameter", signed=False), "ec2", False),
        (outcome("anonymous", 200, signed=False), "s3", True),
        (outcome("forged", 403, "SignatureDoesNotMatch"), "query", False),
        (outcome("forged", 403, "AccessDenied"), "query", True),
        (outcome("forged", 401, "AuthFailure"), "ec2", False),
        (outcome("no-policy", 403, "AccessDenied"), "query", False),
        (outcome("no-policy", 200), "query", True),
        (outcome("no-policy", 403, "AccessDenied"), "ec2", True),
        (outcome("no-policy", 403, "UnauthorizedOperation"), "ec2", False),
        (outcome("denied", 400, "InvalidAction"), "query", False),
        (outcome("denied", 501, "NotImplemented"), "s3", False),
        (outcome("denied", 500, "InternalFailure"), "query", True),
        (outcome("denied", 503, "ServiceUnavailable"), "query", True),
        (outcome("denied", 0, "ConnectionClosedError"), "query", True),
        # A HEAD error has no body, so no code: its status decides.
        (outcome("denied", 403, service="s3", operation="HeadObject"), "s3", False),
        (outcome("other-account", 404, "NoSuchEntity"), "query", False),
        # Cloud-admin-only: another account's root is refused like any other caller.
        (outcome("other-account", 200, service="empyrean", operation="X"), "query", True),
        (outcome("other-account", 200, operation="ListAccounts"), "query", True),
        (outcome("other-account", 403, "AccessDenied", operation="ListAccounts"), "query", False),
        (outcome("other-account", 200), "query", False),
        (outcome("other-account", 200, sent_tokens=frozenset({"victim-id"})), "query", True),
        (outcome("other-account", 200, answer_tokens=frozenset({"a-bucket"})), "query", True),
        (
            outcome(
                "other-account",
                200,
                service="sts",
                operation="GetAccessKeyInfo",
                sent_tokens=frozenset({"AKIA"}),
                answer_tokens=frozenset({"123456789012"}),
            ),
            "query",
            False,
        ),
        (
            outcome(
                "other-account",
                200,
                service="ec2",
                operation="DeleteKeyPair",
                sent_tokens=frozenset({"key-1"}),
            ),
            "ec2",
            False,
        ),
        (
            outcome(
                "other-account",
                200,
                service="ec2",
                operation="DeleteKeyPair",
                sent_tokens=frozenset({"key-1"}),
                answer_tokens=frozenset({"key-1"}),
            ),
            "ec2",
            True,
        ),
        (outcome("denied", 200, service="sts", operation="GetCallerIdentity"), "query", False),
        (
            outcome("denied", 403, "AccessDenied", service="sts", operation="GetCallerIdentity"),
            "query",
            True,
        ),
        (
            outcome(
                "no-policy-session",
                403,
                "AccessDenied",
                service="sts",
                operation="GetSessionToken",
                temporary=True,
            ),
            "query",
            False,
        ),
        (
            outcome("no-policy", 403, "AccessDenied", service="sts", operation="GetSessionToken"),
            "query",
            True,
        ),
        (
            outcome(
                "denied",
                200,
                service="s3",
                operation="DeleteObjects",
                item_errors=("AccessDenied",),
            ),
            "s3",
            False,
        ),
        (
            outcome(
                "denied",
                200,
                service="s3",
                operation="DeleteObjects",
                item_errors=("AccessDenied",),
                items_done=1,
            ),
            "s3",
            True,
        ),
    ],
)
def test_which_answers_are_violations(answer: Outcome, style: str, wrong: bool) -> None:
    assert (violation(answer, style) is not None) is wrong, (answer, violation(answer, style))


def test_every_exemption_is_justified() -> None:
    """A provider's exemptions from authentication or authorization must be ones AWS makes
    (matrix_expect names the documentation); a new one fails here until justified there."""
    for spec in SERVICES:
        provider = spec.provider
        ops = set(load_service_model(spec.name).operation_names)
        justified = {*ALWAYS_ALLOWED.get(spec.name, {}), *PER_ITEM.get(spec.name, {})}
        unexplained_always = set(provider.always_allowed_operations) - justified
        assert not unexplained_always, (spec.name, unexplained_always)
        anonymous = set(provider.anonymous_operations)
        if spec.name in ANONYMOUS_ALLOWED:
            assert anonymous <= ops
            continue
        unexplained = {op for op in anonymous if f"{spec.name}.{op}" not in ANONYMOUS_ALLOWED}
        assert not unexplained, (spec.name, unexplained)


def test_the_cloud_admin_only_operations_are_the_expected_ones() -> None:
    """The matrix refuses these to everyone but the admin; a provider that drops (or adds)
    one fails here until matrix_expect.ADMIN_ONLY says so too."""
    for spec in SERVICES:
        admin_only = spec.provider.admin_operations
        assert admin_only == ADMIN_ONLY.get(spec.name, frozenset()), spec.name
