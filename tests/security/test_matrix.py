"""The security matrix: every operation of every service in the catalog, sent to a live cloud
by every kind of caller that must be refused, each answered with AWS's error.

Columns (matrix_world.build_world): no credentials; a forged signature (A's operator's key
id, a wrong secret); a user of A's with no policy, and its GetSessionToken session; a user of
A's allowed everything but denied each service's `<prefix>:*`; account B's root, and B's root
naming A in IAM's DelegateAccount.
Rows: every operation of each service's model (mallee_client's models, Eucalyptus' included);
requests name A's real resources (matrix_requests.build_params). A service added to
`mallee.gateway.catalog.SERVICES` joins the matrix by being there.

Expected answers and exemptions: matrix_expect. A's resources are compared before and after
(test_a_is_unchanged): a refusal that still changed something is caught there.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mallee.gateway.catalog import SERVICES
from tests.e2e.conftest import Cloud
from tests.security.matrix_expect import Outcome, violation
from tests.security.matrix_run import run_column, send
from tests.security.matrix_state import snapshot
from tests.security.matrix_world import (
    Principal,
    World,
    build_world,
    deny_one_policy,
    spec_named,
    user_with_policies,
)

pytestmark = pytest.mark.e2e

COLUMNS = (
    "anonymous",
    "forged",
    "no-policy",
    "no-policy-session",
    "denied",
    "other-account",
    "other-account-delegating",
)

# (service, operation, the IAM action AWS checks for it, an operation of the same service that
# action does not cover). Action names per the Service Authorization Reference, where S3's
# differ from its operation names:
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
PER_ACTION = (
    ("s3", "HeadObject", "s3:GetObject", "GetObjectTagging"),
    ("s3", "GetObject", "s3:GetObject", "HeadBucket"),
    ("s3", "ListObjectsV2", "s3:ListBucket", "GetBucketLocation"),
    ("s3", "HeadBucket", "s3:ListBucket", "GetBucketTagging"),
    ("s3", "ListObjectVersions", "s3:ListBucketVersions", "ListObjects"),
    ("s3", "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", "GetBucketCors"),
    ("s3", "GetBucketCors", "s3:GetBucketCORS", "GetBucketVersioning"),
    ("s3", "ListMultipartUploads", "s3:ListBucketMultipartUploads", "ListParts"),
    ("s3", "ListParts", "s3:ListMultipartUploadParts", "ListMultipartUploads"),
    ("s3", "GetObjectAcl", "s3:GetObjectAcl", "GetObject"),
    ("s3", "GetBucketPolicyStatus", "s3:GetBucketPolicyStatus", "GetBucketPolicy"),
    ("iam", "GetUser", "iam:GetUser", "ListUsers"),
    ("iam", "ListAccessKeys", "iam:ListAccessKeys", "GetUser"),
    ("iam", "GetRole", "iam:GetRole", "ListRoles"),
    ("ec2", "DescribeInstances", "ec2:DescribeInstances", "DescribeKeyPairs"),
    ("ec2", "GetConsoleOutput", "ec2:GetConsoleOutput", "DescribeInstances"),
    ("ec2", "DescribeSecurityGroups", "ec2:DescribeSecurityGroups", "DescribeAddresses"),
    ("sts", "AssumeRole", "sts:AssumeRole", "GetCallerIdentity"),
)


@pytest.fixture(scope="module")
def world(module_cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(module_cloud, tmp_path_factory.mktemp("matrix"))


@pytest.fixture(scope="module")
def deny_one_users(world: World) -> dict[str, Principal]:
    """Per action: a user of A's allowed everything but that action (made before the
    snapshot, which lists A's users)."""
    actions = dict.fromkeys([action for _, _, action, _ in PER_ACTION] + ["sts:*"])
    users: dict[str, Principal] = {}
    for i, action in enumerate(actions):
        keys = user_with_policies(world, f"deny-one-{i}", ("one", deny_one_policy(action)))
        users[action] = Principal(f"denied {action}", keys)
    return users


@pytest.fixture(scope="module")
def before(world: World, deny_one_users: dict[str, Principal]) -> dict[str, Any]:
    return snapshot(world)


def _report(title: str, wrong: list[tuple[Outcome, str]]) -> str:
    lines = [f"{title}: {len(wrong)} wrong answer(s)"]
    lines += [f"  {o}: {why}" for o, why in sorted(wrong, key=lambda w: w[0].operation)]
    return "\n".join(lines)


@pytest.mark.usefixtures("before")
@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_matrix(world: World, service: str, column: str) -> None:
    style = spec_named(service).auth_style
    outcomes = run_column(world, service, world.principals[column])
    # The delegating column sends only what has a DelegateAccount member (IAM's operations).
    if column != "other-account-delegating" or service == "iam":
        assert outcomes, f"no operation of {service} was sent"
    wrong = [(o, why) for o in outcomes if (why := violation(o, style)) is not None]
    assert not wrong, _report(f"{service} as {column}", wrong)


@pytest.mark.usefixtures("before")
@pytest.mark.parametrize(
    ("service", "operation", "action", "control"),
    PER_ACTION,
    ids=[f"{s}:{o}" for s, o, _, _ in PER_ACTION],
)
def test_a_deny_of_exactly_the_action_refuses_the_operation(
    world: World,
    deny_one_users: dict[str, Principal],
    service: str,
    operation: str,
    action: str,
    control: str,
) -> None:
    """A user allowed everything but denied one action: the operations that need it are
    refused, one that does not is answered (so the Deny, not something else, refused it)."""
    principal = deny_one_users[action]
    client = world.client(service, principal)
    style = spec_named(service).auth_style
    refused = send(world, client, service, operation, principal)
    assert refused is not None
    assert violation(refused, style) is None, str(refused)
    answered = send(world, client, service, control, principal)
    assert answered is not None and 200 <= answered.status < 300, str(answered)


def test_sts_caller_identity_despite_an_explicit_deny(
    world: World, deny_one_users: dict[str, Principal]
) -> None:
    """AWS: a Deny of sts:* does not stop GetCallerIdentity (see matrix_expect)."""
    principal = deny_one_users["sts:*"]
    answer = send(world, world.client("sts", principal), "sts", "GetCallerIdentity", principal)
    assert answer is not None and answer.status == 200, str(answer)


def test_a_is_unchanged(world: World, before: dict[str, Any]) -> None:
    """Runs after the matrix (tests run in module order): nothing any column sent changed A
    or the cloud's own configuration."""
    after = snapshot(world)
    changed = {
        f"{service}.{key}": {"before": was, "after": after[service][key]}
        for service, state in before.items()
        for key, was in state.items()
        if after[service][key] != was
    }
    assert not changed, json.dumps(changed, default=str)[:8000]
