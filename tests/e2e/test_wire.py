"""The wire layer seen from outside: routing, health, bad input, error shapes."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import urllib3
from botocore.auth import SigV2Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Cloud

HTTP = urllib3.PoolManager()


def signed(
    cloud: Cloud,
    service: str,
    body: bytes | str,
    *,
    path: str = "/",
    headers: dict[str, str] | None = None,
    secret: str | None = None,
) -> Any:
    req = AWSRequest(
        "POST",
        cloud.endpoint + path,
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            **(headers or {}),
        },
    )
    creds = Credentials(cloud.admin.access_key, secret or cloud.admin.secret_key)
    SigV4Auth(creds, service, REGION).add_auth(req)
    return HTTP.request("POST", req.url, body=req.body, headers=dict(req.headers))


def test_healthz(cloud: Cloud) -> None:
    r = HTTP.request("GET", cloud.endpoint + "/healthz")
    assert r.status == 200
    assert r.json()["ok"] is True


@pytest.mark.parametrize(
    ("path", "service", "body"),
    [
        ("/services/Tokens", "sts", "Action=GetCallerIdentity&Version=2011-06-15"),
        ("/services/Euare", "iam", "Action=ListUsers&Version=2010-05-08"),
        ("/", "sts", "Action=GetCallerIdentity&Version=2011-06-15"),
        ("/", "iam", "Action=ListUsers&Version=2010-05-08"),
    ],
)
def test_routes_by_path_and_scope(cloud: Cloud, path: str, service: str, body: str) -> None:
    r = signed(cloud, service, body, path=path)
    assert r.status == 200, r.data
    assert b"<RequestId>" in r.data


def test_routes_by_host(cloud: Cloud) -> None:
    """Endpoint-per-host: with SigV2 (no credential scope) the Host header picks the service."""
    port = urllib.parse.urlsplit(cloud.endpoint).port
    host = f"sts.localhost:{port}"
    req = AWSRequest(
        "POST",
        f"http://{host}/",
        data={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
    )
    SigV2Auth(Credentials(cloud.admin.access_key, cloud.admin.secret_key)).add_auth(req)
    prepared = req.prepare()
    r = HTTP.request(
        "POST",
        cloud.endpoint + "/",
        body=prepared.body,
        headers={
            "Host": host,
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        },
    )
    assert r.status == 200, r.data
    assert b"GetCallerIdentityResult" in r.data


def test_sigv2_query_at_the_root_is_routed_by_its_version(cloud: Cloud) -> None:
    """Libcloud's EC2 driver: a SigV2-signed GET to `/`, nothing but Version names EC2."""
    req = AWSRequest(
        "GET",
        cloud.endpoint + "/",
        params={"Action": "DescribeRegions", "Version": "2016-11-15"},
    )
    SigV2Auth(Credentials(cloud.admin.access_key, cloud.admin.secret_key)).add_auth(req)
    r = HTTP.request("GET", req.prepare().url)
    assert r.status == 200, r.data
    assert b"<regionName>eucalyptus</regionName>" in r.data
    unsigned = HTTP.request("GET", cloud.endpoint + "/?Action=DescribeRegions&Version=2016-11-15")
    assert unsigned.status != 404, unsigned.data
    assert b"UnknownService" not in unsigned.data


def test_boto3_and_cli_reach_iam(cloud: Cloud) -> None:
    iam = cloud.client("iam")
    assert "Users" in iam.list_users()
    out = cloud.aws_cli("iam", "list-users")
    assert out.returncode == 0, out.stderr
    assert '"Users"' in out.stdout


def test_unknown_service_path(cloud: Cloud) -> None:
    r = signed(cloud, "iam", "Action=ListUsers", path="/services/NoSuchThing")
    assert r.status == 404
    assert b"<Code>UnknownService</Code>" in r.data


def test_unknown_action(cloud: Cloud) -> None:
    r = signed(cloud, "iam", "Action=FlyToTheMoon&Version=2010-05-08", path="/services/Euare")
    assert r.status == 400
    assert b"<Code>InvalidAction</Code>" in r.data


def test_bad_signature_is_rejected(cloud: Cloud) -> None:
    r = signed(cloud, "iam", "Action=ListUsers&Version=2010-05-08", secret="wrong" * 8)
    assert r.status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in r.data


def test_no_credentials_is_rejected(cloud: Cloud) -> None:
    r = HTTP.request(
        "POST",
        cloud.endpoint + "/services/Euare",
        body="Action=ListUsers&Version=2010-05-08",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in r.data


def test_oversized_body_is_413_and_no_trace(cloud: Cloud) -> None:
    body = "Action=ListUsers&Version=2010-05-08&Pad=" + "x" * (11 * 1024 * 1024)
    r = signed(cloud, "iam", body, path="/services/Euare")
    assert r.status == 413
    assert b"Traceback" not in r.data


def test_missing_required_parameter(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as err:
        # Server-side validation: the client would refuse to send this.
        cloud.client("iam", parameter_validation=False).get_role(RoleName="")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    r = signed(cloud, "iam", "Action=CreateUser&Version=2010-05-08", path="/services/Euare")
    assert r.status == 400
    assert b"<Code>ValidationError</Code>" in r.data


def test_error_has_request_id(cloud: Cloud) -> None:
    with pytest.raises(ClientError) as err:
        cloud.client("iam").get_user(UserName="nobody-by-that-name")
    resp = err.value.response
    assert resp["Error"]["Code"] == "NoSuchEntity"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert resp["ResponseMetadata"]["RequestId"]
