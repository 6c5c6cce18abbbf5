"""The internal call (gateway/internal.py): one part of the cloud asks a service as a principal,
through the input shape, the authorizer and the operations table, without HTTP."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.gateway.internal import EC2_SERVICE, service_principal
from mallee.services.base import Operations, Params, Provider, Result, Runtime
from tests.unit.gateway.conftest import Gateway, allow

ROLE_OWNER = "000011112222"


def refused(call: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call()
    return info.value


# Input, operation and service -------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {},  # UserName is required
        {"UserName": 7},
        {"UserName": "alice", "Colour": "blue"},
        {"UserName": ""},  # shorter than the shape's minimum
    ],
)
def test_params_failing_the_input_shape_are_a_validation_error(
    gateway: Gateway, params: Params
) -> None:
    err = refused(
        lambda: gateway.calls.call("iam", "CreateUser", params, principal=gateway.admin_principal)
    )
    assert (err.code, err.status) == ("ValidationError", 400)
    # The function never ran.
    assert "alice" not in [u["UserName"] for u in gateway.iam("ListUsers")["Users"]]


def test_an_unknown_operation_is_invalid_action(gateway: Gateway) -> None:
    err = refused(
        lambda: gateway.calls.call("iam", "ListUnicorns", {}, principal=gateway.admin_principal)
    )
    assert (err.code, err.status) == ("InvalidAction", 400)
    assert "ListUnicorns" in err.message


def test_an_unknown_service(gateway: Gateway) -> None:
    err = refused(
        lambda: gateway.calls.call("lambda", "ListFunctions", {}, principal=gateway.admin_principal)
    )
    assert (err.code, err.status) == ("UnknownService", 404)


def test_a_call_reaches_the_real_service(gateway: Gateway) -> None:
    gateway.iam("CreateUser", UserName="alice")
    answer = gateway.iam("GetUser", UserName="alice")
    assert answer["User"]["UserName"] == "alice"


# Authorization of users -------------------------------------------------------------------
def test_a_user_without_permission_is_denied(gateway: Gateway) -> None:
    nobody = gateway.principal(gateway.user("nobody"))
    err = refused(lambda: gateway.iam("ListUsers", nobody))
    assert (err.code, err.status) == ("AccessDenied", 403)
    assert nobody.arn in err.message and "iam:ListUsers" in err.message


def test_a_user_with_permission_gets_the_result(gateway: Gateway) -> None:
    lister = gateway.principal(gateway.user("lister", allow("iam:ListUsers")))
    answer = gateway.iam("ListUsers", lister)
    # The users of the lister's own account (each account has its admin user).
    assert sorted(u["UserName"] for u in answer["Users"]) == ["admin", "lister"]
    # The permission is that one action's.
    err = refused(lambda: gateway.iam("CreateUser", lister, UserName="other"))
    assert err.code == "AccessDenied"


def test_an_explicit_deny_wins(gateway: Gateway) -> None:
    policy = allow("iam:*")
    policy["Statement"].append({"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"})
    denied = gateway.principal(gateway.user("denied", policy))
    err = refused(lambda: gateway.iam("ListUsers", denied))
    assert err.code == "AccessDenied" and "explicit deny" in err.message


# The context a function is called with ----------------------------------------------------
Seen = list[tuple[Runtime, RequestContext, Params]]


def seen(runtime: Runtime) -> Seen:
    found: Seen = runtime.shared("seen", list)
    return found


def echo(runtime: Runtime, ctx: RequestContext, params: Params) -> Result:
    seen(runtime).append((runtime, ctx, params))
    return {"Account": ROLE_OWNER}


class StsEcho(Provider):
    service: ClassVar[str] = "sts"
    action_prefix: ClassVar[str] = "sts"
    operations: ClassVar[Operations] = {"GetAccessKeyInfo": echo}
    internal_operations: ClassVar[frozenset[str]] = frozenset({"GetAccessKeyInfo"})


def test_the_function_gets_an_internal_request_and_a_copy_of_the_params(gateway: Gateway) -> None:
    gateway.chain._providers["sts"] = StsEcho(gateway.chain.runtime)
    params = {"AccessKeyId": "AKIA000011112222"}
    answer = gateway.calls.call(
        "sts", "GetAccessKeyInfo", params, principal=gateway.admin_principal
    )
    assert answer == {"Account": ROLE_OWNER}
    [(runtime, ctx, got)] = seen(gateway.chain.runtime)
    assert runtime is gateway.chain.runtime
    assert got == params and got is not params
    assert ctx.internal
    assert (ctx.service, ctx.operation_name, ctx.protocol) == ("sts", "GetAccessKeyInfo", "query")
    assert ctx.principal == gateway.admin_principal


# Service principals -----------------------------------------------------------------------
def trust(service: str, effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": effect, "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def role(name: str) -> str:
    return f"arn:aws:iam::{ROLE_OWNER}:role/{name}"


# Each role's trust policy, by ARN; None: the role has none.
TRUST: dict[str, str | None] = {
    role("for-ec2"): trust(EC2_SERVICE),
    role("for-lambda"): trust("lambda.amazonaws.com"),
    role("for-accounts"): json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ROLE_OWNER}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    ),
    role("everyone-but-ec2"): json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
                {
                    "Effect": "Deny",
                    "Principal": {"Service": EC2_SERVICE},
                    "Action": "sts:AssumeRole",
                },
            ],
        }
    ),
    role("no-policy"): None,
}


def assumed(runtime: Runtime, ctx: RequestContext, params: Params) -> Result:
    return {"AssumedRoleUser": {"Arn": params["RoleArn"], "AssumedRoleId": "AROA:i"}}


class Roles(Provider):
    """Roles with trust policies, as STS has them, answered without STS's store."""

    service: ClassVar[str] = "sts"
    action_prefix: ClassVar[str] = "sts"
    operations: ClassVar[Operations] = {"AssumeRole": assumed}

    def resources(self, ctx: RequestContext) -> list[str]:
        return [str(ctx.params["RoleArn"])]

    def resource_policy(self, ctx: RequestContext, arn: str) -> tuple[str, str | None] | None:
        return ROLE_OWNER, TRUST[arn]


def assume_as_ec2(gateway: Gateway, name: str) -> Result:
    gateway.chain._providers["sts"] = Roles(gateway.chain.runtime)
    params = {"RoleArn": role(name), "RoleSessionName": "i-0123456789abcdef0"}
    return gateway.calls.call("sts", "AssumeRole", params, principal=service_principal(EC2_SERVICE))


def test_a_service_principal_is_allowed_where_a_resource_policy_names_it(
    gateway: Gateway,
) -> None:
    answer = assume_as_ec2(gateway, "for-ec2")
    assert answer["AssumedRoleUser"]["Arn"] == role("for-ec2")


@pytest.mark.parametrize("name", ["for-lambda", "for-accounts", "no-policy"])
def test_a_service_principal_is_denied_where_no_resource_policy_names_it(
    gateway: Gateway, name: str
) -> None:
    err = refused(lambda: assume_as_ec2(gateway, name))
    assert (err.code, err.status) == ("AccessDenied", 403)
    assert EC2_SERVICE in err.message and "explicit deny" not in err.message


def test_a_resource_policy_may_deny_a_service_principal_explicitly(gateway: Gateway) -> None:
    err = refused(lambda: assume_as_ec2(gateway, "everyone-but-ec2"))
    assert err.code == "AccessDenied" and "explicit deny" in err.message


def test_a_service_principal_gets_nothing_from_a_service_without_resource_policies(
    gateway: Gateway,
) -> None:
    ec2 = service_principal(EC2_SERVICE)
    err = refused(lambda: gateway.calls.call("iam", "ListUsers", {}, principal=ec2))
    assert (err.code, err.status) == ("AccessDenied", 403)


def test_a_service_principal_belongs_to_no_account() -> None:
    p = service_principal(EC2_SERVICE)
    assert (p.kind, p.account_id, p.arn, p.name) == ("service", "", EC2_SERVICE, EC2_SERVICE)
    assert not p.is_cloud_admin and p.access_key_id == ""
