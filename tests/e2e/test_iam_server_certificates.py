"""IAM server certificates through boto3: upload (PEM checks, key match), get, list with paths
and paging, rename and move, tags, and delete (refused while a load balancer listener uses it)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import Cloud
from tests.e2e.test_iam_accounts import new_account

pytestmark = pytest.mark.e2e


def make_certificate(host: str = "lb.example.com") -> tuple[str, str, dt.datetime]:
    """A self-signed certificate and its key, as PEM text, and its expiry."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    expiry = now + dt.timedelta(days=30)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(expiry)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    body = cert.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return body, private, expiry


def upload(iam: Any, name: str, path: str = "/") -> dict[str, Any]:
    body, key, _ = make_certificate()
    meta: dict[str, Any] = iam.upload_server_certificate(
        ServerCertificateName=name, Path=path, CertificateBody=body, PrivateKey=key
    )["ServerCertificateMetadata"]
    return meta


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def account(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    return new_account(cloud, tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def iam(cloud: Cloud, account: tuple[str, str, str]) -> Any:
    return cloud.client("iam", account[1], account[2])


def test_upload_get_list_update_delete(iam: Any, account: tuple[str, str, str]) -> None:
    body, key, expiry = make_certificate()
    chain, _, _ = make_certificate("ca.example.com")
    meta = iam.upload_server_certificate(
        ServerCertificateName="web",
        Path="/prod/",
        CertificateBody=body,
        PrivateKey=key,
        CertificateChain=chain,
        Tags=[{"Key": "team", "Value": "web"}],
    )["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{account[0]}:server-certificate/prod/web"
    assert meta["ServerCertificateId"].startswith("ASCA")
    assert meta["Path"] == "/prod/" and meta["ServerCertificateName"] == "web"
    assert meta["Expiration"] == expiry

    got = iam.get_server_certificate(ServerCertificateName="web")["ServerCertificate"]
    assert got["CertificateBody"].strip() == body.strip()
    assert got["CertificateChain"].strip() == chain.strip()
    assert got["Tags"] == [{"Key": "team", "Value": "web"}]
    # The private key is never answered.
    assert "PrivateKey" not in got and "PRIVATE KEY" not in str(got)

    with pytest.raises(ClientError) as err:
        upload(iam, "web")
    assert error(err) == ("EntityAlreadyExists", 409)

    upload(iam, "other", "/test/")
    listed = iam.list_server_certificates()["ServerCertificateMetadataList"]
    assert [c["ServerCertificateName"] for c in listed] == ["other", "web"]
    prod = iam.list_server_certificates(PathPrefix="/prod/")["ServerCertificateMetadataList"]
    assert [c["ServerCertificateName"] for c in prod] == ["web"]
    first = iam.list_server_certificates(MaxItems=1)
    assert first["IsTruncated"] and len(first["ServerCertificateMetadataList"]) == 1
    rest = iam.list_server_certificates(Marker=first["Marker"])
    assert [c["ServerCertificateName"] for c in rest["ServerCertificateMetadataList"]] == ["web"]

    iam.update_server_certificate(
        ServerCertificateName="web", NewServerCertificateName="site", NewPath="/live/"
    )
    moved = iam.get_server_certificate(ServerCertificateName="site")["ServerCertificate"]
    assert moved["ServerCertificateMetadata"]["Arn"].endswith(":server-certificate/live/site")
    with pytest.raises(ClientError) as err:
        iam.get_server_certificate(ServerCertificateName="web")
    assert error(err) == ("NoSuchEntity", 404)

    iam.tag_server_certificate(ServerCertificateName="site", Tags=[{"Key": "k", "Value": "v"}])
    tags = iam.list_server_certificate_tags(ServerCertificateName="site")["Tags"]
    assert {t["Key"] for t in tags} == {"team", "k"}

    iam.delete_server_certificate(ServerCertificateName="site")
    iam.delete_server_certificate(ServerCertificateName="other")
    assert iam.list_server_certificates()["ServerCertificateMetadataList"] == []
    with pytest.raises(ClientError) as err:
        iam.delete_server_certificate(ServerCertificateName="site")
    assert error(err) == ("NoSuchEntity", 404)


def test_bad_pem_and_mismatched_key(iam: Any) -> None:
    body, key, _ = make_certificate()
    _, other_key, _ = make_certificate()
    cases = [
        ({"CertificateBody": "not a certificate", "PrivateKey": key}, "MalformedCertificate"),
        ({"CertificateBody": body, "PrivateKey": "not a key"}, "MalformedCertificate"),
        ({"CertificateBody": body, "PrivateKey": other_key}, "KeyPairMismatch"),
        (
            {"CertificateBody": body, "PrivateKey": key, "CertificateChain": "garbage"},
            "MalformedCertificate",
        ),
    ]
    for params, expected in cases:
        with pytest.raises(ClientError) as err:
            iam.upload_server_certificate(ServerCertificateName="bad", **params)
        assert error(err) == (expected, 400)
    with pytest.raises(ClientError) as err:
        iam.upload_server_certificate(
            ServerCertificateName="bad", Path="no-slash", CertificateBody=body, PrivateKey=key
        )
    assert error(err) == ("ValidationError", 400)


def test_delete_conflicts_with_a_listener(
    cloud: Cloud, iam: Any, account: tuple[str, str, str]
) -> None:
    meta = upload(iam, f"lb-{uuid.uuid4().hex[:6]}")
    elb = cloud.client(
        "elb", account[1], account[2], endpoint_url=cloud.endpoint + "/services/LoadBalancing"
    )
    zone = cloud.client("ec2", account[1], account[2]).describe_availability_zones()[
        "AvailabilityZones"
    ][0]["ZoneName"]
    name = f"tls-{uuid.uuid4().hex[:6]}"
    listener = {
        "Protocol": "HTTPS",
        "LoadBalancerPort": 443,
        "InstancePort": 80,
        "SSLCertificateId": meta["Arn"],
    }
    elb.create_load_balancer(LoadBalancerName=name, Listeners=[listener], AvailabilityZones=[zone])
    with pytest.raises(ClientError) as err:
        iam.delete_server_certificate(ServerCertificateName=meta["ServerCertificateName"])
    assert error(err) == ("DeleteConflict", 409)
    # Renamed, the listener follows it (AWS keeps serving a renamed certificate).
    iam.update_server_certificate(
        ServerCertificateName=meta["ServerCertificateName"], NewServerCertificateName="renamed"
    )
    described = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    arn = described[0]["ListenerDescriptions"][0]["Listener"]["SSLCertificateId"]
    assert arn.endswith(":server-certificate/renamed")
    elb.delete_load_balancer(LoadBalancerName=name)
    iam.delete_server_certificate(ServerCertificateName="renamed")


def test_other_accounts_do_not_see_certificates(cloud: Cloud, iam: Any, tmp_path: Path) -> None:
    meta = upload(iam, "mine")
    _, ak, sk = new_account(cloud, tmp_path)
    other = cloud.client("iam", ak, sk)
    assert other.list_server_certificates()["ServerCertificateMetadataList"] == []
    with pytest.raises(ClientError) as err:
        other.get_server_certificate(ServerCertificateName="mine")
    assert error(err) == ("NoSuchEntity", 404)
    iam.delete_server_certificate(ServerCertificateName=meta["ServerCertificateName"])
