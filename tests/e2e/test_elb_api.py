"""Classic ELB (2012-06-01) through boto3, at /services/LoadBalancing and by signature scope:
every action, AWS's errors, paging, tags, policies, attributes, health, and listeners with IAM
server certificates. The node runs the fake hypervisor: instances are rows that run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Cloud
from tests.e2e.test_ec2_instances import default_image, wait_state
from tests.e2e.test_iam_accounts import new_account
from tests.e2e.test_iam_server_certificates import upload

pytestmark = pytest.mark.e2e

HTTP = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}
TCP = {"Protocol": "TCP", "LoadBalancerPort": 22, "InstancePort": 22}


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix: str = "lb") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Account:
    def __init__(self, cloud: Cloud, access_key: str, secret_key: str) -> None:
        path = cloud.endpoint + "/services/LoadBalancing"
        self.elb = cloud.client("elb", access_key, secret_key, endpoint_url=path)
        # Without botocore's own checks (its minimums), so the server's answer is what is seen.
        self.raw = cloud.client(
            "elb", access_key, secret_key, endpoint_url=path, parameter_validation=False
        )
        # Routed by the signature's credential scope (elasticloadbalancing) alone.
        self.scoped = cloud.client("elb", access_key, secret_key)
        self.ec2 = cloud.client("ec2", access_key, secret_key)
        self.iam = cloud.client("iam", access_key, secret_key)
        zones = self.ec2.describe_availability_zones()["AvailabilityZones"]
        self.zone = str(zones[0]["ZoneName"])

    def create(self, name: str, *listeners: dict[str, Any], **extra: Any) -> str:
        answer = self.elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=list(listeners or [HTTP]),
            AvailabilityZones=[self.zone],
            **extra,
        )
        return str(answer["DNSName"])

    def describe(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.elb.describe_load_balancers(LoadBalancerNames=[name])[
            "LoadBalancerDescriptions"
        ][0]
        return found


@pytest.fixture(scope="module")
def acct(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Account:
    _, ak, sk = new_account(cloud, tmp_path_factory.mktemp("elb"))
    return Account(cloud, ak, sk)


@pytest.fixture(scope="module")
def running(acct: Account) -> Iterator[list[str]]:
    """Two running (fake) instances of the account."""
    res = acct.ec2.run_instances(ImageId=default_image(acct.ec2), MinCount=2, MaxCount=2)
    ids = [i["InstanceId"] for i in res["Instances"]]
    wait_state(acct.ec2, ids, "running")
    yield ids
    acct.ec2.terminate_instances(InstanceIds=ids)


def test_create_describe_delete(acct: Account) -> None:
    name = unique("Web")
    dns = acct.create(name, HTTP, TCP, Tags=[{"Key": "env", "Value": "test"}])
    lb_id = dns.split(".")[0][len(name) + 1 :]
    assert dns == f"{name}-{lb_id}.eucalyptus.elb.cloud.internal"
    assert lb_id and all(c in "0123456789abcdef" for c in lb_id)
    # The same request again answers the same load balancer (AWS is idempotent here).
    assert acct.create(name, HTTP, TCP) == dns
    d = acct.describe(name)
    assert d["DNSName"] == d["CanonicalHostedZoneName"] == dns
    assert d["CanonicalHostedZoneNameID"].startswith("Z")
    assert d["AvailabilityZones"] == [acct.zone] and d["Subnets"] == []
    assert d["Scheme"] == "internet-facing" and "VPCId" not in d
    assert d["SourceSecurityGroup"] == {"OwnerAlias": "amazon-elb", "GroupName": "amazon-elb-sg"}
    assert d["HealthCheck"] == {
        "Target": "TCP:80",
        "Interval": 30,
        "Timeout": 5,
        "UnhealthyThreshold": 2,
        "HealthyThreshold": 10,
    }
    listeners = [x["Listener"] for x in d["ListenerDescriptions"]]
    assert listeners == [
        {"Protocol": "TCP", "LoadBalancerPort": 22, "InstanceProtocol": "TCP", "InstancePort": 22},
        {
            "Protocol": "HTTP",
            "LoadBalancerPort": 80,
            "InstanceProtocol": "HTTP",
            "InstancePort": 80,
        },
    ]
    assert d["Instances"] == [] and d["BackendServerDescriptions"] == []
    tags = acct.elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"]
    assert tags == [{"LoadBalancerName": name, "Tags": [{"Key": "env", "Value": "test"}]}]
    # The same by signature scope, without the Eucalyptus path.
    scoped = acct.scoped.describe_load_balancers(LoadBalancerNames=[name])
    assert scoped["LoadBalancerDescriptions"][0]["DNSName"] == dns

    acct.elb.delete_load_balancer(LoadBalancerName=name)
    with pytest.raises(ClientError) as err:
        acct.describe(name)
    assert error(err) == ("LoadBalancerNotFound", 400)
    # Deleting what does not exist succeeds, as AWS.
    acct.elb.delete_load_balancer(LoadBalancerName=name)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"LoadBalancerName": "-bad"}, ("ValidationError", 400)),
        ({"LoadBalancerName": "x" * 33}, ("ValidationError", 400)),
        ({"LoadBalancerName": "has_underscore"}, ("ValidationError", 400)),
        ({"Listeners": [{**HTTP, "Protocol": "UDP"}]}, ("UnsupportedProtocol", 400)),
        ({"Listeners": [{**HTTP, "LoadBalancerPort": 70000}]}, ("ValidationError", 400)),
        (
            {"Listeners": [{**HTTP, "InstanceProtocol": "TCP"}]},
            ("InvalidConfigurationRequest", 409),
        ),
        ({"Listeners": [HTTP, {**HTTP, "InstancePort": 81}]}, ("DuplicateListener", 400)),
        ({"Listeners": [{**HTTP, "Protocol": "HTTPS"}]}, ("ValidationError", 400)),
        (
            {
                "Listeners": [
                    {
                        **HTTP,
                        "Protocol": "HTTPS",
                        "SSLCertificateId": "arn:aws:iam::1:server-certificate/x",
                    }
                ]
            },
            ("CertificateNotFound", 400),
        ),
        ({"AvailabilityZones": ["no-such-zone"]}, ("ValidationError", 400)),
        ({"AvailabilityZones": []}, ("ValidationError", 400)),
        ({"Scheme": "sideways"}, ("InvalidScheme", 400)),
        ({"Subnets": ["subnet-00000000"]}, ("SubnetNotFound", 400)),
        ({"Tags": [{"Key": "a"}, {"Key": "a"}]}, ("DuplicateTagKeys", 400)),
        ({"Tags": [{"Key": f"k{i}"} for i in range(11)]}, ("TooManyTags", 400)),
    ],
)
def test_create_refusals(acct: Account, params: dict[str, Any], expected: tuple[str, int]) -> None:
    request = {
        "LoadBalancerName": unique(),
        "Listeners": [HTTP],
        "AvailabilityZones": [acct.zone],
        **params,
    }
    with pytest.raises(ClientError) as err:
        acct.elb.create_load_balancer(**request)
    assert error(err) == expected


def test_duplicate_name_and_quota(cloud: Cloud, tmp_path: Path) -> None:
    _, ak, sk = new_account(cloud, tmp_path)
    other = Account(cloud, ak, sk)
    other.create("first")
    with pytest.raises(ClientError) as err:
        other.create("first", TCP)
    assert error(err) == ("DuplicateLoadBalancerName", 400)
    for i in range(19):
        other.create(f"n{i:02d}")
    with pytest.raises(ClientError) as err:
        other.create("one-too-many")
    assert error(err) == ("TooManyLoadBalancers", 400)
    limits = other.elb.describe_account_limits()["Limits"]
    assert {"Name": "classic-load-balancers", "Max": "20"} in limits

    # Paging: PageSize and Marker, by name.
    page = other.elb.describe_load_balancers(PageSize=7)
    names = [d["LoadBalancerName"] for d in page["LoadBalancerDescriptions"]]
    while page.get("NextMarker"):
        page = other.elb.describe_load_balancers(PageSize=7, Marker=page["NextMarker"])
        names += [d["LoadBalancerName"] for d in page["LoadBalancerDescriptions"]]
    assert names == sorted(["first", *(f"n{i:02d}" for i in range(19))])
    with pytest.raises(ClientError) as err:
        other.elb.describe_load_balancers(Marker="not-a-marker")
    assert error(err) == ("ValidationError", 400)
    # Another account sees none of them, and its names are its own.
    with pytest.raises(ClientError) as err:
        cloud.client("elb").describe_load_balancers(LoadBalancerNames=["first"])
    assert error(err) == ("LoadBalancerNotFound", 400)
    for name in names:
        other.elb.delete_load_balancer(LoadBalancerName=name)


def test_listeners(acct: Account) -> None:
    name = unique()
    acct.create(name)
    https_cert = upload(acct.iam, unique("cert"))["Arn"]
    acct.elb.create_load_balancer_listeners(
        LoadBalancerName=name,
        Listeners=[
            {
                "Protocol": "HTTPS",
                "LoadBalancerPort": 443,
                "InstancePort": 80,
                "SSLCertificateId": https_cert,
            }
        ],
    )
    # The same listener again is no change; another on its port is a duplicate.
    acct.elb.create_load_balancer_listeners(LoadBalancerName=name, Listeners=[HTTP])
    with pytest.raises(ClientError) as err:
        acct.elb.create_load_balancer_listeners(
            LoadBalancerName=name, Listeners=[{**HTTP, "InstancePort": 8080}]
        )
    assert error(err) == ("DuplicateListener", 400)
    listeners = {
        x["Listener"]["LoadBalancerPort"]: x["Listener"]
        for x in acct.describe(name)["ListenerDescriptions"]
    }
    assert listeners[443]["SSLCertificateId"] == https_cert
    assert listeners[443]["InstanceProtocol"] == "HTTP"

    second = upload(acct.iam, unique("cert"))["Arn"]
    acct.elb.set_load_balancer_listener_ssl_certificate(
        LoadBalancerName=name, LoadBalancerPort=443, SSLCertificateId=second
    )
    listeners = {
        x["Listener"]["LoadBalancerPort"]: x["Listener"]
        for x in acct.describe(name)["ListenerDescriptions"]
    }
    assert listeners[443]["SSLCertificateId"] == second
    cases = [
        (443, https_cert + "-gone", ("CertificateNotFound", 400)),
        (8443, second, ("ListenerNotFound", 400)),
        (80, second, ("InvalidConfigurationRequest", 409)),
    ]
    for port, arn, expected in cases:
        with pytest.raises(ClientError) as err:
            acct.elb.set_load_balancer_listener_ssl_certificate(
                LoadBalancerName=name, LoadBalancerPort=port, SSLCertificateId=arn
            )
        assert error(err) == expected

    acct.elb.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=[443, 9999])
    ports = [x["Listener"]["LoadBalancerPort"] for x in acct.describe(name)["ListenerDescriptions"]]
    assert ports == [80]
    with pytest.raises(ClientError) as err:
        acct.elb.delete_load_balancer_listeners(LoadBalancerName="nope", LoadBalancerPorts=[80])
    assert error(err) == ("LoadBalancerNotFound", 400)
    acct.elb.delete_load_balancer(LoadBalancerName=name)


def test_instances_and_health(
    acct: Account, running: list[str], cloud: Cloud, tmp_path: Path
) -> None:
    name = unique()
    acct.create(name)
    a, b = running
    answer = acct.elb.register_instances_with_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": a}, {"InstanceId": b}]
    )
    assert sorted(i["InstanceId"] for i in answer["Instances"]) == sorted(running)
    assert sorted(i["InstanceId"] for i in acct.describe(name)["Instances"]) == sorted(running)

    states = acct.elb.describe_instance_health(LoadBalancerName=name)["InstanceStates"]
    assert {s["InstanceId"] for s in states} == set(running)
    for state in states:
        # No worker has checked them yet, or one has: either way AWS's words.
        assert state["State"] in ("InService", "OutOfService")
        if state["State"] == "OutOfService" and state["ReasonCode"] == "ELB":
            assert state["Description"] == "Instance registration is still in progress."

    for bad in ("i-00000000", ""):
        with pytest.raises(ClientError) as err:
            acct.elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": bad or "i-ffffffff"}]
            )
        assert error(err) == ("InvalidInstance", 400)
    # Another account's instance is not the caller's.
    admin_ec2 = cloud.client("ec2")
    theirs = admin_ec2.run_instances(ImageId=default_image(admin_ec2), MinCount=1, MaxCount=1)
    their_id = theirs["Instances"][0]["InstanceId"]
    with pytest.raises(ClientError) as err:
        acct.elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": their_id}]
        )
    assert error(err) == ("InvalidInstance", 400)
    admin_ec2.terminate_instances(InstanceIds=[their_id])

    left = acct.elb.deregister_instances_from_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": a}]
    )["Instances"]
    assert left == [{"InstanceId": b}]
    with pytest.raises(ClientError) as err:
        acct.elb.deregister_instances_from_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": a}]
        )
    assert error(err) == ("InvalidInstance", 400)
    named = acct.elb.describe_instance_health(LoadBalancerName=name, Instances=[{"InstanceId": a}])
    assert named["InstanceStates"] == [
        {
            "InstanceId": a,
            "State": "OutOfService",
            "ReasonCode": "N/A",
            "Description": "Instance is not currently registered with the LoadBalancer.",
        }
    ]
    with pytest.raises(ClientError) as err:
        acct.elb.describe_instance_health(
            LoadBalancerName=name, Instances=[{"InstanceId": "i-0badbad0"}]
        )
    assert error(err) == ("InvalidInstance", 400)

    # Draining: a deregistered instance stays (not listed) until its timeout.
    acct.elb.modify_load_balancer_attributes(
        LoadBalancerName=name,
        LoadBalancerAttributes={"ConnectionDraining": {"Enabled": True, "Timeout": 120}},
    )
    assert (
        acct.elb.deregister_instances_from_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": b}]
        )["Instances"]
        == []
    )
    draining = acct.elb.describe_instance_health(
        LoadBalancerName=name, Instances=[{"InstanceId": b}]
    )
    assert (
        draining["InstanceStates"][0]["Description"]
        == "Instance deregistration currently in progress."
    )
    # Registered again, it is back.
    acct.elb.register_instances_with_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": b}]
    )
    assert acct.describe(name)["Instances"] == [{"InstanceId": b}]

    # An instance that is not running: OutOfService, the instance's fault.
    gone = acct.ec2.run_instances(ImageId=default_image(acct.ec2), MinCount=1, MaxCount=1)
    gone_id = gone["Instances"][0]["InstanceId"]
    wait_state(acct.ec2, [gone_id], "running")
    acct.elb.register_instances_with_load_balancer(
        LoadBalancerName=name, Instances=[{"InstanceId": gone_id}]
    )
    acct.ec2.terminate_instances(InstanceIds=[gone_id])
    wait_state(acct.ec2, [gone_id], "terminated")
    health = acct.elb.describe_instance_health(
        LoadBalancerName=name, Instances=[{"InstanceId": gone_id}]
    )
    assert health["InstanceStates"] == [
        {
            "InstanceId": gone_id,
            "State": "OutOfService",
            "ReasonCode": "Instance",
            "Description": "Instance is in terminated state.",
        }
    ]
    with pytest.raises(ClientError) as err:
        acct.elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": gone_id}]
        )
    assert error(err) == ("InvalidInstance", 400)
    acct.elb.delete_load_balancer(LoadBalancerName=name)


def test_health_check_and_attributes(acct: Account) -> None:
    name = unique()
    acct.create(name)
    check = {
        "Target": "HTTP:8080/health",
        "Interval": 10,
        "Timeout": 3,
        "UnhealthyThreshold": 3,
        "HealthyThreshold": 2,
    }
    assert (
        acct.elb.configure_health_check(LoadBalancerName=name, HealthCheck=check)["HealthCheck"]
        == check
    )
    assert acct.describe(name)["HealthCheck"] == check
    for bad in (
        {"Target": "HTTP:80"},
        {"Target": "UDP:53"},
        {"Target": "TCP:22/path"},
        {"Interval": 4},
        {"Timeout": 10},
        {"UnhealthyThreshold": 11},
        {"HealthyThreshold": 1},
    ):
        with pytest.raises(ClientError) as err:
            acct.raw.configure_health_check(LoadBalancerName=name, HealthCheck={**check, **bad})
        assert error(err) == ("ValidationError", 400), bad

    attrs = acct.elb.describe_load_balancer_attributes(LoadBalancerName=name)[
        "LoadBalancerAttributes"
    ]
    assert attrs["CrossZoneLoadBalancing"] == {"Enabled": False}
    assert attrs["ConnectionDraining"] == {"Enabled": False, "Timeout": 300}
    assert attrs["ConnectionSettings"] == {"IdleTimeout": 60}
    assert attrs["AccessLog"] == {"Enabled": False}
    changed = acct.elb.modify_load_balancer_attributes(
        LoadBalancerName=name,
        LoadBalancerAttributes={
            "CrossZoneLoadBalancing": {"Enabled": True},
            "ConnectionSettings": {"IdleTimeout": 120},
            "AccessLog": {
                "Enabled": True,
                "S3BucketName": "logs",
                "EmitInterval": 5,
                "S3BucketPrefix": "p",
            },
        },
    )
    assert changed["LoadBalancerName"] == name
    assert changed["LoadBalancerAttributes"]["ConnectionSettings"] == {"IdleTimeout": 120}
    attrs = acct.elb.describe_load_balancer_attributes(LoadBalancerName=name)[
        "LoadBalancerAttributes"
    ]
    assert attrs["CrossZoneLoadBalancing"] == {"Enabled": True}
    assert attrs["AccessLog"] == {
        "Enabled": True,
        "S3BucketName": "logs",
        "EmitInterval": 5,
        "S3BucketPrefix": "p",
    }
    for bad in (
        {"ConnectionSettings": {"IdleTimeout": 0}},
        {"AccessLog": {"Enabled": True, "S3BucketName": "logs", "EmitInterval": 7}},
    ):
        with pytest.raises(ClientError) as err:
            acct.raw.modify_load_balancer_attributes(
                LoadBalancerName=name, LoadBalancerAttributes=bad
            )
        assert error(err) == ("ValidationError", 400), bad
    with pytest.raises(ClientError) as err:
        acct.elb.describe_load_balancer_attributes(LoadBalancerName="nope")
    assert error(err) == ("LoadBalancerNotFound", 400)
    acct.elb.delete_load_balancer(LoadBalancerName=name)


def test_policies(acct: Account) -> None:
    name = unique()
    cert = upload(acct.iam, unique("cert"))["Arn"]
    acct.create(
        name,
        HTTP,
        TCP,
        {"Protocol": "SSL", "LoadBalancerPort": 443, "InstancePort": 443, "SSLCertificateId": cert},
    )
    types = acct.elb.describe_load_balancer_policy_types()["PolicyTypeDescriptions"]
    assert {t["PolicyTypeName"] for t in types} >= {
        "ProxyProtocolPolicyType",
        "LBCookieStickinessPolicyType",
        "AppCookieStickinessPolicyType",
        "SSLNegotiationPolicyType",
        "BackendServerAuthenticationPolicyType",
        "PublicKeyPolicyType",
    }
    one = acct.elb.describe_load_balancer_policy_types(
        PolicyTypeNames=["AppCookieStickinessPolicyType"]
    )
    attribute = one["PolicyTypeDescriptions"][0]["PolicyAttributeTypeDescriptions"][0]
    assert attribute["AttributeName"] == "CookieName" and attribute["Cardinality"] == "ONE"
    with pytest.raises(ClientError) as err:
        acct.elb.describe_load_balancer_policy_types(PolicyTypeNames=["NoSuchType"])
    assert error(err) == ("PolicyTypeNotFound", 400)

    acct.elb.create_lb_cookie_stickiness_policy(
        LoadBalancerName=name, PolicyName="lb-sticky", CookieExpirationPeriod=60
    )
    acct.elb.create_app_cookie_stickiness_policy(
        LoadBalancerName=name, PolicyName="app-sticky", CookieName="SESSION"
    )
    acct.elb.create_load_balancer_policy(
        LoadBalancerName=name,
        PolicyName="proxy",
        PolicyTypeName="ProxyProtocolPolicyType",
        PolicyAttributes=[{"AttributeName": "ProxyProtocol", "AttributeValue": "true"}],
    )
    acct.elb.create_load_balancer_policy(
        LoadBalancerName=name,
        PolicyName="tls",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[
            {
                "AttributeName": "Reference-Security-Policy",
                "AttributeValue": "ELBSecurityPolicy-2016-08",
            }
        ],
    )
    # The reference is spelled out into the predefined policy's attributes, as AWS stores it.
    (tls,) = acct.elb.describe_load_balancer_policies(LoadBalancerName=name, PolicyNames=["tls"])[
        "PolicyDescriptions"
    ]
    spelled = {a["AttributeName"]: a["AttributeValue"] for a in tls["PolicyAttributeDescriptions"]}
    assert spelled["Reference-Security-Policy"] == "ELBSecurityPolicy-2016-08"
    assert spelled["Protocol-TLSv1.2"] == "true"
    assert spelled["ECDHE-RSA-AES128-GCM-SHA256"] == "true"
    with pytest.raises(ClientError) as err:
        acct.elb.create_app_cookie_stickiness_policy(
            LoadBalancerName=name, PolicyName="proxy", CookieName="x"
        )
    assert error(err) == ("DuplicatePolicyName", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.create_load_balancer_policy(
            LoadBalancerName=name, PolicyName="p", PolicyTypeName="Nope"
        )
    assert error(err) == ("PolicyTypeNotFound", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.create_load_balancer_policy(
            LoadBalancerName=name,
            PolicyName="p",
            PolicyTypeName="ProxyProtocolPolicyType",
            PolicyAttributes=[{"AttributeName": "ProxyProtocol", "AttributeValue": "maybe"}],
        )
    assert error(err) == ("InvalidConfigurationRequest", 409)

    acct.elb.set_load_balancer_policies_of_listener(
        LoadBalancerName=name, LoadBalancerPort=80, PolicyNames=["lb-sticky"]
    )
    acct.elb.set_load_balancer_policies_of_listener(
        LoadBalancerName=name, LoadBalancerPort=443, PolicyNames=["tls"]
    )
    acct.elb.set_load_balancer_policies_for_backend_server(
        LoadBalancerName=name, InstancePort=22, PolicyNames=["proxy"]
    )
    refusals = [
        (80, ["proxy"]),  # proxy protocol is a back end's policy
        (22, ["lb-sticky"]),  # stickiness is HTTP's
        (80, ["lb-sticky", "app-sticky"]),  # one stickiness policy per listener
        (80, ["tls"]),  # SSL negotiation is for HTTPS and SSL
    ]
    for port, policies in refusals:
        with pytest.raises(ClientError) as err:
            acct.elb.set_load_balancer_policies_of_listener(
                LoadBalancerName=name, LoadBalancerPort=port, PolicyNames=policies
            )
        assert error(err) == ("InvalidConfigurationRequest", 409), (port, policies)
    with pytest.raises(ClientError) as err:
        acct.elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=name, LoadBalancerPort=81, PolicyNames=[]
        )
    assert error(err) == ("ListenerNotFound", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=name, LoadBalancerPort=80, PolicyNames=["ghost"]
        )
    assert error(err) == ("PolicyNotFound", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.set_load_balancer_policies_for_backend_server(
            LoadBalancerName=name, InstancePort=80, PolicyNames=["lb-sticky"]
        )
    assert error(err) == ("InvalidConfigurationRequest", 409)
    # Back-end authentication is stored but cannot be enabled: no worker could check the key.
    acct.elb.create_load_balancer_policy(
        LoadBalancerName=name,
        PolicyName="key",
        PolicyTypeName="PublicKeyPolicyType",
        PolicyAttributes=[{"AttributeName": "PublicKey", "AttributeValue": "MIIBIjANBgkq"}],
    )
    acct.elb.create_load_balancer_policy(
        LoadBalancerName=name,
        PolicyName="auth",
        PolicyTypeName="BackendServerAuthenticationPolicyType",
        PolicyAttributes=[{"AttributeName": "PublicKeyPolicyName", "AttributeValue": "key"}],
    )
    with pytest.raises(ClientError) as err:
        acct.elb.set_load_balancer_policies_for_backend_server(
            LoadBalancerName=name, InstancePort=443, PolicyNames=["auth"]
        )
    assert error(err) == ("InvalidConfigurationRequest", 409)
    acct.elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="auth")
    acct.elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="key")

    d = acct.describe(name)
    by_port = {
        x["Listener"]["LoadBalancerPort"]: x["PolicyNames"] for x in d["ListenerDescriptions"]
    }
    assert by_port == {22: [], 80: ["lb-sticky"], 443: ["tls"]}
    assert d["BackendServerDescriptions"] == [{"InstancePort": 22, "PolicyNames": ["proxy"]}]
    assert d["Policies"] == {
        "AppCookieStickinessPolicies": [{"PolicyName": "app-sticky", "CookieName": "SESSION"}],
        "LBCookieStickinessPolicies": [{"PolicyName": "lb-sticky", "CookieExpirationPeriod": 60}],
        "OtherPolicies": ["proxy", "tls"],
    }
    described = acct.elb.describe_load_balancer_policies(
        LoadBalancerName=name, PolicyNames=["proxy"]
    )
    assert described["PolicyDescriptions"] == [
        {
            "PolicyName": "proxy",
            "PolicyTypeName": "ProxyProtocolPolicyType",
            "PolicyAttributeDescriptions": [
                {"AttributeName": "ProxyProtocol", "AttributeValue": "true"}
            ],
        }
    ]
    predefined = acct.elb.describe_load_balancer_policies()["PolicyDescriptions"]
    assert "ELBSecurityPolicy-2016-08" in [p["PolicyName"] for p in predefined]
    with pytest.raises(ClientError) as err:
        acct.elb.describe_load_balancer_policies(LoadBalancerName=name, PolicyNames=["ghost"])
    assert error(err) == ("PolicyNotFound", 400)

    with pytest.raises(ClientError) as err:
        acct.elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="lb-sticky")
    assert error(err) == ("InvalidConfigurationRequest", 409)
    acct.elb.set_load_balancer_policies_of_listener(
        LoadBalancerName=name, LoadBalancerPort=80, PolicyNames=[]
    )
    acct.elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="lb-sticky")
    acct.elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="never-was")
    names = [
        p["PolicyName"]
        for p in acct.elb.describe_load_balancer_policies(LoadBalancerName=name)[
            "PolicyDescriptions"
        ]
    ]
    assert names == ["app-sticky", "proxy", "tls"]
    acct.elb.delete_load_balancer(LoadBalancerName=name)


def test_zones(acct: Account) -> None:
    name = unique()
    acct.create(name)
    assert acct.elb.enable_availability_zones_for_load_balancer(
        LoadBalancerName=name, AvailabilityZones=[acct.zone]
    )["AvailabilityZones"] == [acct.zone]
    with pytest.raises(ClientError) as err:
        acct.elb.enable_availability_zones_for_load_balancer(
            LoadBalancerName=name, AvailabilityZones=["nowhere"]
        )
    assert error(err) == ("ValidationError", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.disable_availability_zones_for_load_balancer(
            LoadBalancerName=name, AvailabilityZones=[acct.zone]
        )
    assert error(err) == ("ValidationError", 400)
    # Subnets and security groups are a VPC load balancer's.
    for call, params in (
        (acct.elb.attach_load_balancer_to_subnets, {"Subnets": ["subnet-00000000"]}),
        (acct.elb.detach_load_balancer_from_subnets, {"Subnets": ["subnet-00000000"]}),
        (acct.elb.apply_security_groups_to_load_balancer, {"SecurityGroups": ["sg-00000000"]}),
    ):
        with pytest.raises(ClientError) as err:
            call(LoadBalancerName=name, **params)
        assert error(err) == ("InvalidConfigurationRequest", 409)
    acct.elb.delete_load_balancer(LoadBalancerName=name)


def test_vpc_load_balancer(acct: Account) -> None:
    vpc = acct.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = acct.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "Subnets"
    ]
    subnet = next(s for s in subnets if s["AvailabilityZone"] == acct.zone)
    groups = acct.ec2.describe_security_groups()["SecurityGroups"]
    default = next(g for g in groups if g["GroupName"] == "default")
    extra_name = unique("group")
    extra = acct.ec2.create_security_group(GroupName=extra_name, Description="lb")["GroupId"]
    name = unique()
    # No worker of this cloud can be internal (no public address, DNS of the interfaces).
    with pytest.raises(ClientError) as err:
        acct.elb.create_load_balancer(
            LoadBalancerName=name, Listeners=[HTTP], Subnets=[subnet["SubnetId"]], Scheme="internal"
        )
    assert error(err) == ("InvalidConfigurationRequest", 409)
    dns = acct.elb.create_load_balancer(
        LoadBalancerName=name, Listeners=[HTTP], Subnets=[subnet["SubnetId"]]
    )["DNSName"]
    assert dns.startswith(f"{name}-")
    d = acct.describe(name)
    assert d["VPCId"] == vpc["VpcId"] and d["Subnets"] == [subnet["SubnetId"]]
    assert d["AvailabilityZones"] == [acct.zone] and d["Scheme"] == "internet-facing"
    assert d["SecurityGroups"] == [default["GroupId"]]
    assert d["CanonicalHostedZoneName"] == dns
    assert acct.elb.apply_security_groups_to_load_balancer(
        LoadBalancerName=name, SecurityGroups=[extra]
    )["SecurityGroups"] == [extra]
    source = acct.describe(name)["SourceSecurityGroup"]
    assert source == {"OwnerAlias": default["OwnerId"], "GroupName": extra_name}
    with pytest.raises(ClientError) as err:
        acct.elb.apply_security_groups_to_load_balancer(
            LoadBalancerName=name, SecurityGroups=["sg-00000000"]
        )
    assert error(err) == ("InvalidSecurityGroup", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.attach_load_balancer_to_subnets(LoadBalancerName=name, Subnets=["subnet-00000000"])
    assert error(err) == ("SubnetNotFound", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.detach_load_balancer_from_subnets(
            LoadBalancerName=name, Subnets=[subnet["SubnetId"]]
        )
    assert error(err) == ("InvalidConfigurationRequest", 409)
    with pytest.raises(ClientError) as err:
        acct.elb.enable_availability_zones_for_load_balancer(
            LoadBalancerName=name, AvailabilityZones=[acct.zone]
        )
    assert error(err) == ("InvalidConfigurationRequest", 409)
    acct.elb.delete_load_balancer(LoadBalancerName=name)


def test_tags(acct: Account) -> None:
    a, b = unique(), unique()
    acct.create(a)
    acct.create(b)
    acct.elb.add_tags(LoadBalancerNames=[a, b], Tags=[{"Key": "team", "Value": "x"}, {"Key": "k"}])
    acct.elb.add_tags(LoadBalancerNames=[a], Tags=[{"Key": "team", "Value": "y"}])
    acct.elb.remove_tags(LoadBalancerNames=[b], Tags=[{"Key": "team"}])
    found = acct.elb.describe_tags(LoadBalancerNames=[a, b])["TagDescriptions"]
    assert found == [
        {"LoadBalancerName": a, "Tags": [{"Key": "k", "Value": ""}, {"Key": "team", "Value": "y"}]},
        {"LoadBalancerName": b, "Tags": [{"Key": "k", "Value": ""}]},
    ]
    with pytest.raises(ClientError) as err:
        acct.elb.add_tags(LoadBalancerNames=[a], Tags=[{"Key": f"t{i}"} for i in range(9)])
    assert error(err) == ("TooManyTags", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.add_tags(LoadBalancerNames=[a], Tags=[{"Key": "d"}, {"Key": "d"}])
    assert error(err) == ("DuplicateTagKeys", 400)
    with pytest.raises(ClientError) as err:
        acct.elb.describe_tags(LoadBalancerNames=[a, "ghost"])
    assert error(err) == ("LoadBalancerNotFound", 400)
    for name in (a, b):
        acct.elb.delete_load_balancer(LoadBalancerName=name)


def test_policies_decide_per_load_balancer(cloud: Cloud, acct: Account, tmp_path: Path) -> None:
    """A user allowed one load balancer's ARN may act on it and no other."""
    allowed, other = unique(), unique()
    acct.create(allowed)
    acct.create(other)
    account_id = acct.ec2.describe_security_groups()["SecurityGroups"][0]["OwnerId"]
    user = unique("user")
    acct.iam.create_user(UserName=user)
    arn = f"arn:aws:elasticloadbalancing:eucalyptus:{account_id}:loadbalancer/{allowed}"
    acct.iam.put_user_policy(
        UserName=user,
        PolicyName="one-lb",
        PolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":'
            f'"elasticloadbalancing:*","Resource":"{arn}"}}]}}'
        ),
    )
    key = acct.iam.create_access_key(UserName=user)["AccessKey"]
    mine = cloud.client(
        "elb",
        key["AccessKeyId"],
        key["SecretAccessKey"],
        endpoint_url=cloud.endpoint + "/services/LoadBalancing",
    )
    mine.configure_health_check(
        LoadBalancerName=allowed,
        HealthCheck={
            "Target": "TCP:80",
            "Interval": 10,
            "Timeout": 5,
            "UnhealthyThreshold": 2,
            "HealthyThreshold": 2,
        },
    )
    with pytest.raises(ClientError) as err:
        mine.delete_load_balancer(LoadBalancerName=other)
    assert error(err) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as err:
        mine.describe_tags(LoadBalancerNames=[allowed, other])
    assert error(err) == ("AccessDenied", 403)
    assert acct.describe(other)["LoadBalancerName"] == other
    for name in (allowed, other):
        acct.elb.delete_load_balancer(LoadBalancerName=name)
