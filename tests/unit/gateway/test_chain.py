"""Chain.handle end to end over a real store: route, authenticate, parse, authorize, dispatch
to the provider's operations table, serialize; with stand-in providers where a real one would
make the test about its service."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from mallee.api.context import RequestContext
from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest, HttpResponse
from mallee.gateway import catalog
from mallee.gateway.routing import route
from mallee.services.base import Authorize, Operations, Params, Provider, Result, Runtime
from tests.unit.gateway.conftest import (
    FORM,
    Gateway,
    allow,
    error_code,
    form,
    parsed,
    query_request,
    signed,
    signed_v2,
    unsigned,
)

# What an unexpected exception carries must never reach the client.
SECRET = "password=hunter2 at /srv/mallee/handler.py line 7"
Seen = list[tuple[str, RequestContext, Params]]


def seen(runtime: Runtime) -> Seen:
    """What the stand-in operations were called with, per chain (each test has its own)."""
    found: Seen = runtime.shared("seen", list)
    return found


def caller_identity(runtime: Runtime, ctx: RequestContext, params: Params) -> Result:
    seen(runtime).append(("GetCallerIdentity", ctx, params))
    p = ctx.principal
    return {"UserId": p.user_id, "Account": p.account_id, "Arn": p.arn}


def access_key_info(runtime: Runtime, ctx: RequestContext, params: Params) -> Result:
    seen(runtime).append(("GetAccessKeyInfo", ctx, params))
    return {"Account": params["AccessKeyId"][-12:]}


def no_such_role(runtime: Runtime, ctx: RequestContext, params: Params) -> Result:
    seen(runtime).append(("AssumeRole", ctx, params))
    raise ServiceError("NoSuchEntity", f"The role {params['RoleArn']} cannot be found.", 404)


def crashes(runtime: Runtime, ctx: RequestContext, params: Params) -> Result:
    seen(runtime).append(("GetSessionToken", ctx, params))
    raise RuntimeError(SECRET)


class StsStandIn(Provider):
    """Answers a few STS operations from its table; GetFederationToken it lacks."""

    service: ClassVar[str] = "sts"
    action_prefix: ClassVar[str] = "sts"
    operations: ClassVar[Operations] = {
        "GetCallerIdentity": caller_identity,
        "GetAccessKeyInfo": access_key_info,
        "AssumeRole": no_such_role,
        "GetSessionToken": crashes,
    }


def bad_filter(runtime: Runtime, ctx: RequestContext, params: Params) -> Result:
    raise ServiceError("InvalidParameterValue", "The filter 'x' is invalid", 400)


def zones(runtime: Runtime, ctx: RequestContext, params: Params) -> Result:
    return {"AvailabilityZones": [{"ZoneName": "one", "RegionName": ctx.region}]}


class Ec2StandIn(Provider):
    service: ClassVar[str] = "ec2"
    action_prefix: ClassVar[str] = "ec2"
    operations: ClassVar[Operations] = {
        "DescribeRegions": bad_filter,
        "DescribeAvailabilityZones": zones,
    }


def install(gateway: Gateway, provider_class: type[Provider]) -> Provider:
    provider = provider_class(gateway.chain.runtime)
    gateway.chain._providers[provider_class.service] = provider
    return provider


def sts(
    gateway: Gateway, action: str, keys: tuple[str, str] | None = None, **params: str
) -> HttpResponse:
    return gateway.chain.handle(query_request("sts", action, keys, **params))


# Authentication ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "action", "code", "status"),
    [
        ("iam", "ListUsers", "MissingAuthenticationToken", 403),
        ("sts", "GetSessionToken", "MissingAuthenticationToken", 403),
        ("ec2", "DescribeRegions", "MissingParameter", 400),
        ("empyrean", "DescribeServices", "MissingAuthenticationToken", 403),
    ],
)
def test_an_unsigned_request_is_refused_in_its_service_s_error_shape(
    gateway: Gateway, service: str, action: str, code: str, status: int
) -> None:
    response = gateway.chain.handle(query_request(service, action, None))
    assert error_code(response, service, action) == (code, status)


def test_an_unsigned_s3_request_is_refused_in_s3_s_shape(gateway: Gateway) -> None:
    response = gateway.chain.handle(unsigned("PUT", "http://localhost:8773/new-bucket"))
    assert error_code(response, "s3", "CreateBucket") == ("AccessDenied", 403)
    assert response.body.lstrip().startswith(b"<?xml")
    assert b"<Error>" in response.body and b"<ErrorResponse" not in response.body


def test_an_unsigned_request_never_reaches_the_operation(gateway: Gateway) -> None:
    install(gateway, StsStandIn)
    response = sts(gateway, "GetCallerIdentity")
    assert error_code(response, "sts", "GetCallerIdentity") == ("MissingAuthenticationToken", 403)
    assert seen(gateway.chain.runtime) == []


def test_a_wrong_signature_is_refused(gateway: Gateway) -> None:
    install(gateway, StsStandIn)
    response = sts(gateway, "GetCallerIdentity", (gateway.admin[0], "not-the-secret"))
    assert error_code(response, "sts", "GetCallerIdentity") == ("SignatureDoesNotMatch", 403)
    assert seen(gateway.chain.runtime) == []


# Dispatch to the operations table ---------------------------------------------------------
def test_a_routed_request_reaches_the_provider_s_table_function(gateway: Gateway) -> None:
    install(gateway, StsStandIn)
    response = sts(gateway, "GetAccessKeyInfo", gateway.admin, AccessKeyId="AKIA000011112222")
    assert response.status == 200
    assert parsed(response, "sts", "GetAccessKeyInfo")["Account"] == "000011112222"
    [(name, ctx, params)] = seen(gateway.chain.runtime)
    assert name == "GetAccessKeyInfo"
    assert params == {"AccessKeyId": "AKIA000011112222"} == ctx.params
    assert ctx.principal == gateway.admin_principal
    assert (ctx.service, ctx.operation_name, ctx.protocol) == ("sts", "GetAccessKeyInfo", "query")
    assert ctx.http.method == "POST"


def test_the_answer_is_the_function_s_result_serialized(gateway: Gateway) -> None:
    install(gateway, StsStandIn)
    response = sts(gateway, "GetCallerIdentity", gateway.admin)
    answer = parsed(response, "sts", "GetCallerIdentity")
    admin = gateway.admin_principal
    assert (answer["Arn"], answer["Account"], answer["UserId"]) == (
        admin.arn,
        admin.account_id,
        admin.user_id,
    )
    assert answer["ResponseMetadata"]["RequestId"]


def test_a_sigv2_request_at_the_root_reaches_the_service_of_its_version(
    gateway: Gateway,
) -> None:
    install(gateway, Ec2StandIn)
    params = {"Action": "DescribeAvailabilityZones", "Version": "2016-11-15"}
    response = gateway.chain.handle(signed_v2("http://localhost:8773/", gateway.admin, params))
    answer = parsed(response, "ec2", "DescribeAvailabilityZones")
    assert answer["AvailabilityZones"] == [{"ZoneName": "one", "RegionName": "eucalyptus"}]
    forged = signed_v2("http://localhost:8773/", (gateway.admin[0], "forged"), params)
    response = gateway.chain.handle(forged)
    assert error_code(response, "ec2", "DescribeAvailabilityZones") == ("AuthFailure", 401)


def test_one_provider_per_service_per_chain(gateway: Gateway) -> None:
    spec = catalog.by_name()["iam"]
    first = gateway.chain.provider(spec)
    assert isinstance(first, spec.provider)
    assert gateway.chain.provider(spec) is first


def test_routed_routes_once_and_handle_takes_its_route(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(gateway, StsStandIn)
    routes: list[str] = []

    def counting(request: HttpRequest, domain: str) -> catalog.ServiceSpec:
        routes.append(request.path)
        return route(request, domain)

    monkeypatch.setattr("mallee.gateway.chain.route", counting)
    body = form("GetCallerIdentity", "2011-06-15")
    url = "http://localhost:8773/services/Tokens/"
    request = signed("POST", url, "sts", gateway.admin, body, FORM)
    found = gateway.chain.routed(request)
    assert found is not None
    probe, spec = found
    assert spec.name == "sts"
    # The route is taken on a copy: the request as received is left as it came.
    assert (probe.script_name, probe.path) == ("/services/Tokens", "/")
    assert (request.script_name, request.path) == ("", "/services/Tokens/")
    response = gateway.chain.handle(probe, spec=spec)
    assert response.status == 200, response.body
    assert routes == ["/services/Tokens/"]


def test_a_request_no_service_claims(gateway: Gateway) -> None:
    request = HttpRequest("POST", "/nowhere", "", {"host": "localhost"} | FORM, b"a=b")
    assert gateway.chain.routed(request) is None
    response = gateway.chain.handle(request)
    assert response.status == 404
    assert b"<Code>UnknownService</Code>" in response.body
    assert response.headers["x-amzn-requestid"]


# Operations the table lacks, and internal ones --------------------------------------------
def test_an_operation_missing_from_the_table_answers_invalid_action_by_default(
    gateway: Gateway,
) -> None:
    install(gateway, StsStandIn)
    response = sts(gateway, "GetFederationToken", gateway.admin, Name="federated")
    assert error_code(response, "sts", "GetFederationToken") == ("InvalidAction", 400)


class Unimplemented(StsStandIn):
    """Answers what its table lacks as S3 does: only to callers allowed to call it."""

    def unimplemented(self, ctx: RequestContext, authorize: Authorize) -> ServiceError:
        authorize(ctx)
        return ServiceError("NotImplemented", f"{ctx.operation_name} is not implemented", 501)


def test_an_operation_missing_from_the_table_answers_the_provider_s_unimplemented(
    gateway: Gateway,
) -> None:
    install(gateway, Unimplemented)
    response = sts(gateway, "GetFederationToken", gateway.admin, Name="federated")
    assert error_code(response, "sts", "GetFederationToken") == ("NotImplemented", 501)
    # The `authorize` it is handed is the chain's: a caller without the permission is refused.
    nobody = gateway.user("nobody")
    response = sts(gateway, "GetFederationToken", nobody, Name="federated")
    assert error_code(response, "sts", "GetFederationToken") == ("AccessDenied", 403)
    allowed = gateway.user("federator", allow("sts:GetFederationToken"))
    response = sts(gateway, "GetFederationToken", allowed, Name="federated")
    assert error_code(response, "sts", "GetFederationToken") == ("NotImplemented", 501)


class Reserved(StsStandIn):
    internal_operations: ClassVar[frozenset[str]] = frozenset({"GetAccessKeyInfo"})


def test_an_internal_operation_is_unknown_from_outside(gateway: Gateway) -> None:
    install(gateway, Reserved)
    response = sts(gateway, "GetAccessKeyInfo", gateway.admin, AccessKeyId="AKIA000011112222")
    assert error_code(response, "sts", "GetAccessKeyInfo") == ("InvalidAction", 400)
    assert seen(gateway.chain.runtime) == []
    # The internal call reaches it.
    params = {"AccessKeyId": "AKIA000011112222"}
    answer = gateway.calls.call(
        "sts", "GetAccessKeyInfo", params, principal=gateway.admin_principal
    )
    assert answer == {"Account": "000011112222"}


# Errors -----------------------------------------------------------------------------------
def test_a_service_error_is_serialized_in_the_query_protocol(gateway: Gateway) -> None:
    install(gateway, StsStandIn)
    arn = "arn:aws:iam::000011112222:role/gone"
    response = sts(gateway, "AssumeRole", gateway.admin, RoleArn=arn, RoleSessionName="session")
    answer = parsed(response, "sts", "AssumeRole")
    assert (answer["Error"]["Code"], response.status) == ("NoSuchEntity", 404)
    assert answer["Error"]["Message"] == f"The role {arn} cannot be found."
    assert answer["ResponseMetadata"]["RequestId"]
    assert b"<ErrorResponse" in response.body


def test_a_service_error_is_serialized_in_the_ec2_protocol(gateway: Gateway) -> None:
    install(gateway, Ec2StandIn)
    response = gateway.chain.handle(query_request("ec2", "DescribeRegions", gateway.admin))
    answer = parsed(response, "ec2", "DescribeRegions")
    assert (answer["Error"]["Code"], response.status) == ("InvalidParameterValue", 400)
    assert answer["Error"]["Message"] == "The filter 'x' is invalid"
    assert b"<Response><Errors><Error>" in response.body


def test_an_unexpected_exception_is_an_internal_failure_that_tells_nothing(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    install(gateway, StsStandIn)
    response = sts(gateway, "GetSessionToken", gateway.admin)
    assert error_code(response, "sts", "GetSessionToken") == ("InternalFailure", 500)
    for leak in (SECRET.encode(), b"Traceback", b"RuntimeError", b"handler.py"):
        assert leak not in response.body
    # The operator's log has it.
    assert any(r.exc_info and SECRET in str(r.exc_info[1]) for r in caplog.records)


def test_what_the_server_refused_is_answered_in_the_service_s_protocol(gateway: Gateway) -> None:
    install(gateway, StsStandIn)
    request = query_request("sts", "GetCallerIdentity", gateway.admin)
    refused = ServiceError("RequestTimeout", "too slow", 400)
    response = gateway.chain.handle(request, refused=refused)
    assert error_code(response, "sts", "GetCallerIdentity") == ("RequestTimeout", 400)
    assert seen(gateway.chain.runtime) == []


# The unrouted hooks -----------------------------------------------------------------------
ANSWER_EARLY = "x-answer-early"


class SeesUnrouted(StsStandIn):
    """Answers requests carrying ANSWER_EARLY itself and marks every answer, as S3 does for
    CORS preflights and CORS headers."""

    sees_unrouted: ClassVar[bool] = True

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.unrouted: list[RequestContext] = []
        self.finished: list[tuple[RequestContext, int]] = []

    def answer_unrouted(self, ctx: RequestContext, authorize: Authorize) -> HttpResponse | None:
        self.unrouted.append(ctx)
        if ANSWER_EARLY in ctx.http.headers:
            return HttpResponse(204, {"x-early": "yes"})
        return None

    def finish_response(self, ctx: RequestContext, response: HttpResponse) -> None:
        self.finished.append((ctx, response.status))
        response.headers["x-finished"] = "yes"


class IgnoresUnrouted(SeesUnrouted):
    sees_unrouted: ClassVar[bool] = False


class FinishFails(SeesUnrouted):
    def finish_response(self, ctx: RequestContext, response: HttpResponse) -> None:
        raise RuntimeError("lost only the extra headers")


def early_request() -> HttpRequest:
    body = form("GetCallerIdentity", "2011-06-15")
    return unsigned("POST", "http://localhost:8773/", body, FORM | {ANSWER_EARLY: "1"})


def test_a_provider_that_sees_unrouted_requests_answers_them_and_finishes_every_answer(
    gateway: Gateway,
) -> None:
    provider = install(gateway, SeesUnrouted)
    assert isinstance(provider, SeesUnrouted)
    # Answered before authentication: the request is not the model's to route.
    early = gateway.chain.handle(early_request())
    assert (early.status, early.headers.get("x-early")) == (204, "yes")
    assert early.headers["x-finished"] == "yes"
    assert seen(gateway.chain.runtime) == []
    ctx = provider.unrouted[0]
    assert ctx.principal.kind == "anonymous" and ctx.operation is None
    # None from answer_unrouted: the model routes it, and its answer is finished too.
    ok = sts(gateway, "GetCallerIdentity", gateway.admin)
    assert (ok.status, ok.headers["x-finished"]) == (200, "yes")
    refused = sts(gateway, "GetCallerIdentity")
    assert (refused.status, refused.headers["x-finished"]) == (403, "yes")
    assert len(provider.unrouted) == 3
    assert [status for _, status in provider.finished] == [204, 200, 403]


def test_a_provider_that_does_not_see_unrouted_requests_gets_no_such_call(
    gateway: Gateway,
) -> None:
    provider = install(gateway, IgnoresUnrouted)
    assert isinstance(provider, IgnoresUnrouted)
    response = gateway.chain.handle(early_request())
    assert error_code(response, "sts", "GetCallerIdentity") == ("MissingAuthenticationToken", 403)
    ok = sts(gateway, "GetCallerIdentity", gateway.admin)
    assert ok.status == 200
    for answer in (response, ok):
        assert "x-finished" not in answer.headers
    assert provider.unrouted == [] and provider.finished == []


def test_real_providers_other_than_s3_see_no_unrouted_requests() -> None:
    assert [s.name for s in catalog.SERVICES if s.provider.sees_unrouted] == ["s3"]


def test_a_failing_finish_response_leaves_the_answer_standing(gateway: Gateway) -> None:
    install(gateway, FinishFails)
    response = sts(gateway, "GetCallerIdentity", gateway.admin)
    assert response.status == 200
    assert parsed(response, "sts", "GetCallerIdentity")["Arn"] == gateway.admin_principal.arn


def test_an_operation_in_two_tables_is_refused_when_the_provider_is_defined() -> None:
    from mallee.services.base import operations_of

    def answer(runtime: Any, ctx: Any, params: Any) -> dict[str, Any]:
        return {}

    assert set(operations_of({"A": answer}, {"B": answer})) == {"A", "B"}
    with pytest.raises(ValueError, match="operations in two tables: \\['A'\\]"):
        operations_of({"A": answer}, {"A": answer, "B": answer})
