"""Which service a request reaches (gateway/routing.py), and the catalog's tables it reads."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mallee.api.errors import ServiceError
from mallee.api.http import HttpRequest
from mallee.api.models import load_service_model
from mallee.gateway import catalog
from mallee.gateway.routing import route, virtual_bucket
from mallee.services.base import Provider
from tests.unit.api.auth.helpers import from_botocore
from tests.unit.gateway.conftest import FORM, REGION, form, signed, signed_v2, unsigned

DOMAIN = "localhost"
# Routing reads the credential scope a request claims and verifies nothing.
KEYS = ("AKIAROUTING", "not-checked")


def routed(request: HttpRequest) -> str:
    return route(request, DOMAIN).name


def version(service: str) -> str:
    return str(load_service_model(service).api_version)


def query_post(action: str, service: str, host: str = "localhost:8773") -> HttpRequest:
    return unsigned("POST", f"http://{host}/", form(action, version(service)), FORM)


def with_scope(signing_name: str, url: str = "http://localhost:8773/") -> HttpRequest:
    return signed("POST", url, signing_name, KEYS, form("Anything", "0"), FORM)


# The Eucalyptus path: /services/<Name> ------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("Euare", "iam"),
        ("Tokens", "sts"),
        ("compute", "ec2"),
        ("Eucalyptus", "ec2"),
        ("objectstorage", "s3"),
        ("Walrus", "s3"),
        ("Empyrean", "empyrean"),
        ("Properties", "empyrean"),
    ],
)
def test_every_eucalyptus_path_name_routes_to_its_service(name: str, service: str) -> None:
    request = unsigned("GET", f"http://localhost:8773/services/{name}/")
    assert routed(request) == service
    assert (request.script_name, request.path) == (f"/services/{name}", "/")


def test_the_path_prefix_is_consumed_and_its_name_matched_in_any_case() -> None:
    request = unsigned("GET", "http://localhost:8773/services/WALRUS/bucket/a%2Fkey")
    assert routed(request) == "s3"
    assert request.script_name == "/services/WALRUS"
    assert request.path == "/bucket/a%2Fkey"
    bare = unsigned("POST", "http://localhost:8773/services/euare", form("ListUsers", "x"), FORM)
    assert routed(bare) == "iam"
    assert bare.path == "/"


def test_an_unknown_eucalyptus_path_is_unknown_service_404() -> None:
    # The path is authoritative: a known scope or Host does not rescue a misspelt name.
    request = with_scope("iam", "http://iam.localhost:8773/services/Nope/x")
    with pytest.raises(ServiceError) as info:
        route(request, DOMAIN)
    assert (info.value.code, info.value.status) == ("UnknownService", 404)
    assert "/services/Nope" in info.value.message


def test_the_path_wins_over_the_credential_scope() -> None:
    assert routed(with_scope("sts", "http://localhost:8773/services/Euare/")) == "iam"


# The SigV4 credential scope -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("signing_name", "service"),
    [
        ("iam", "iam"),
        ("sts", "sts"),
        ("ec2", "ec2"),
        ("s3", "s3"),
        ("empyrean", "empyrean"),
        # euca2ools signs Empyrean's Properties and bootstrap endpoints with their own names.
        ("properties", "empyrean"),
        ("bootstrap", "empyrean"),
    ],
)
def test_the_credential_scope_names_the_service(signing_name: str, service: str) -> None:
    assert routed(with_scope(signing_name)) == service


def test_the_scope_of_a_presigned_url_names_the_service() -> None:
    request = AWSRequest(method="GET", url="http://localhost:8773/bucket/key")
    S3SigV4QueryAuth(Credentials(*KEYS), "s3", REGION, expires=60).add_auth(request)
    http = from_botocore(request.prepare())
    assert "X-Amz-Credential=" in http.query
    assert routed(http) == "s3"


def test_the_scope_wins_over_the_host() -> None:
    assert routed(with_scope("sts", "http://iam.localhost:8773/")) == "sts"


def test_a_scope_no_service_signs_with_falls_through_to_the_host() -> None:
    assert routed(with_scope("lambda", "http://iam.localhost:8773/")) == "iam"


def _shared_signing_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """elb and elbv2 share a signing name: two services of the catalog made to share one."""
    both = [catalog.by_name()["iam"], catalog.by_name()["sts"]]
    table = {**catalog.by_signing_name(), "elasticloadbalancing": both}
    monkeypatch.setattr(catalog, "by_signing_name", lambda: table)


def test_services_sharing_a_signing_name_are_told_apart_by_the_api_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _shared_signing_name(monkeypatch)
    for service in ("iam", "sts"):
        request = signed(
            "POST",
            "http://localhost:8773/",
            "elasticloadbalancing",
            KEYS,
            form("DescribeLoadBalancers", version(service)),
            FORM,
        )
        assert routed(request) == service
    # A version neither has: the first of them answers (and its parser says what is wrong).
    other = signed(
        "POST",
        "http://localhost:8773/",
        "elasticloadbalancing",
        KEYS,
        form("DescribeLoadBalancers", "1999-01-01"),
        FORM,
    )
    assert routed(other) == "iam"


# Host prefixes and virtual-hosted buckets -----------------------------------------------------
@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("iam.localhost", "iam"),
        ("sts.localhost:8773", "sts"),
        ("ec2.localhost", "ec2"),
        # ec2.<region>.<domain>: the first label names the service.
        ("ec2.eucalyptus.localhost", "ec2"),
        ("compute.localhost", "ec2"),
        ("s3.localhost", "s3"),
        ("properties.localhost", "empyrean"),
        ("IAM.LOCALHOST", "iam"),
    ],
)
def test_a_host_prefix_names_the_service(host: str, service: str) -> None:
    request = HttpRequest("POST", "/", "", {"host": host} | FORM, form("X", "unknown"))
    assert routed(request) == service


def test_a_host_outside_the_domain_names_nothing() -> None:
    # iam.example.com is not this cloud's: an unsigned form POST there is no one's request.
    request = HttpRequest("POST", "/", "", {"host": "iam.example.com"} | FORM, form("X", "0"))
    with pytest.raises(ServiceError) as info:
        route(request, DOMAIN)
    assert (info.value.code, info.value.status) == ("UnknownService", 404)


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("photos.s3.localhost", "photos"),
        ("photos.s3.localhost:8773", "photos"),
        ("my.dotted.bucket.s3.localhost", "my.dotted.bucket"),
        ("Photos.S3.Localhost", "photos"),
        ("s3.localhost", None),
        (".s3.localhost", None),
        ("photos.s3.example.com", None),
        ("localhost", None),
    ],
)
def test_virtual_bucket(host: str, bucket: str | None) -> None:
    assert virtual_bucket(HttpRequest("GET", "/", "", {"host": host}), DOMAIN) == bucket


def test_a_virtual_hosted_bucket_is_s3_whatever_its_first_label() -> None:
    # A bucket named like another service's host prefix is still a bucket.
    for host in ("photos.s3.localhost", "iam.s3.localhost", "ec2.s3.localhost"):
        request = HttpRequest("PUT", "/key", "", {"host": host})
        assert routed(request) == "s3"


# A query request's API Version (SigV2 at the root) --------------------------------------------
@pytest.mark.parametrize("service", ["ec2", "iam", "sts", "empyrean"])
def test_the_api_version_of_a_query_request_names_the_service(service: str) -> None:
    assert routed(query_post("Describe", service)) == service


@pytest.mark.parametrize("service", ["ec2", "iam", "sts", "empyrean"])
def test_a_sigv2_signed_request_at_the_root_is_routed_by_its_version(service: str) -> None:
    params = {"Action": "Describe", "Version": version(service)}
    request = signed_v2("http://localhost:8773/", KEYS, params)
    assert "SignatureVersion=2" in request.body.decode()
    assert routed(request) == service


def test_the_version_may_come_in_the_query_string() -> None:
    query = urlencode(
        {"Action": "DescribeRegions", "Version": version("ec2"), "SignatureVersion": "2"}
    )
    assert routed(HttpRequest("GET", "/", query, {"host": "localhost"})) == "ec2"


def test_a_query_request_with_an_unknown_version_is_unknown_service() -> None:
    for request in (
        HttpRequest("POST", "/", "", {"host": "localhost"} | FORM, form("ListUsers", "1999")),
        HttpRequest("GET", "/", "Action=ListUsers&Version=1999", {"host": "localhost"}),
        # No Version at all.
        HttpRequest("GET", "/", "Action=ListUsers", {"host": "localhost"}),
    ):
        with pytest.raises(ServiceError) as info:
            route(request, DOMAIN)
        assert (info.value.code, info.value.status) == ("UnknownService", 404)


def test_a_form_body_that_is_not_utf8_names_no_version() -> None:
    request = HttpRequest("POST", "/", "", {"host": "localhost"} | FORM, b"Action=\xff&Version=x")
    with pytest.raises(ServiceError) as info:
        route(request, DOMAIN)
    assert info.value.code == "UnknownService"


# The S3 default -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/", ""),
        ("GET", "/bucket", "list-type=2"),
        ("GET", "/bucket/some/key", ""),
        ("PUT", "/bucket/key", ""),
        ("DELETE", "/bucket/key", "versionId=1"),
        # A browser POST upload is multipart, not a query form.
        ("POST", "/bucket", ""),
    ],
)
def test_an_anonymous_request_naming_nothing_is_s3(method: str, path: str, query: str) -> None:
    headers = {"host": "localhost:8773"}
    if method == "POST":
        headers["content-type"] = "multipart/form-data; boundary=x"
    assert routed(HttpRequest(method, path, query, headers)) == "s3"


def test_route_raises_unknown_service_for_what_no_rule_claims() -> None:
    request = HttpRequest("POST", "/nowhere", "", {"host": "localhost"} | FORM, b"a=b")
    with pytest.raises(ServiceError) as info:
        route(request, DOMAIN)
    assert (info.value.code, info.value.status) == ("UnknownService", 404)
    assert "POST /nowhere" in info.value.message


# The catalog ----------------------------------------------------------------------------------
def test_the_catalog_names_each_service_once() -> None:
    names = [spec.name for spec in catalog.SERVICES]
    assert sorted(names) == [
        "autoscaling",
        "cloudformation",
        "cloudwatch",
        "ec2",
        "elb",
        "empyrean",
        "iam",
        "s3",
        "sts",
    ]
    assert catalog.by_name() == {spec.name: spec for spec in catalog.SERVICES}


def test_each_spec_names_a_provider_of_its_own_service() -> None:
    for spec in catalog.SERVICES:
        assert issubclass(spec.provider, Provider)
        assert spec.provider.service == spec.name
    assert [s.name for s in catalog.SERVICES if s.streaming] == ["s3"]


def test_path_names_are_looked_up_lower_cased() -> None:
    table = catalog.by_path_name()
    assert all(name == name.lower() for name in table)
    assert table["euare"].name == "iam"
    assert table["walrus"].name == "s3"
    assert "Euare" not in table


def test_host_prefixes() -> None:
    table = {prefix: spec.name for prefix, spec in catalog.by_host_prefix().items()}
    assert table == {
        "ec2": "ec2",
        "compute": "ec2",
        "iam": "iam",
        "sts": "sts",
        "s3": "s3",
        "empyrean": "empyrean",
        "properties": "empyrean",
        "bootstrap": "empyrean",
        "monitoring": "cloudwatch",
        "elasticloadbalancing": "elb",
        "autoscaling": "autoscaling",
        "cloudformation": "cloudformation",
    }


def test_signing_names_come_from_the_models_plus_the_extra_ones() -> None:
    table = {name: [s.name for s in specs] for name, specs in catalog.by_signing_name().items()}
    for spec in catalog.SERVICES:
        meta = load_service_model(spec.name).metadata
        assert spec.signing_name == meta.get("signingName", meta["endpointPrefix"])
        assert spec.name in table[spec.signing_name]
    assert table["properties"] == table["bootstrap"] == ["empyrean"]


def test_query_versions_cover_the_query_services_only() -> None:
    table = {v: spec.name for v, spec in catalog.by_query_version().items()}
    assert sorted(table.values()) == [
        "autoscaling",
        "cloudformation",
        "ec2",
        "elb",
        "empyrean",
        "iam",
        "sts",
    ]
    for v, name in table.items():
        assert catalog.by_name()[name].api_version == v
    # S3 is REST: its version names it nowhere.
    assert catalog.by_name()["s3"].api_version not in table
