"""ELB's input checks: names, ports, listeners, health check targets and thresholds, tags,
and the policy types' attribute rules."""

from __future__ import annotations

from typing import Any

import pytest

from mallee.api.errors import ServiceError
from mallee.services.elb import checks
from mallee.services.elb import policy_types as pt


def code(fn: Any, *args: Any) -> tuple[str, int]:
    with pytest.raises(ServiceError) as err:
        fn(*args)
    return err.value.code, err.value.status


@pytest.mark.parametrize("name", ["a", "MyElb", "my-elb-1", "x" * 32, "1-2"])
def test_good_names(name: str) -> None:
    assert checks.lb_name(name) == name


@pytest.mark.parametrize("name", ["", "-lead", "trail-", "x" * 33, "under_score", "dot.ted", None])
def test_bad_names(name: Any) -> None:
    assert code(checks.lb_name, name) == ("ValidationError", 400)


@pytest.mark.parametrize("port", [0, 65536, -1, True, "80"])
def test_bad_ports(port: Any) -> None:
    assert code(checks.port, port, "LoadBalancerPort") == ("ValidationError", 400)


def test_listener_defaults_its_instance_protocol() -> None:
    https = {
        "Protocol": "https",
        "LoadBalancerPort": 443,
        "InstancePort": 80,
        "SSLCertificateId": "arn",
    }
    assert checks.listener(https) == checks.Listener(443, "HTTPS", 80, "HTTP", "arn")
    ssl = {"Protocol": "SSL", "LoadBalancerPort": 8443, "InstancePort": 22, "SSLCertificateId": "a"}
    assert checks.listener(ssl).instance_protocol == "TCP"
    tcp = {"Protocol": "TCP", "LoadBalancerPort": 22, "InstancePort": 22, "SSLCertificateId": "a"}
    # A plain listener keeps no certificate.
    assert checks.listener(tcp) == checks.Listener(22, "TCP", 22, "TCP", "")


def test_listener_refusals() -> None:
    base = {"LoadBalancerPort": 80, "InstancePort": 80}
    assert code(checks.listener, {**base, "Protocol": "UDP"}) == ("UnsupportedProtocol", 400)
    mixed = {**base, "Protocol": "HTTP", "InstanceProtocol": "TCP"}
    assert code(checks.listener, mixed) == ("InvalidConfigurationRequest", 409)
    assert code(checks.listener, {**base, "Protocol": "HTTPS"}) == ("ValidationError", 400)
    assert code(checks.listeners, []) == ("ValidationError", 400)


def test_listeners_on_one_instance_port_agree_on_security() -> None:
    plain = checks.Listener(80, "HTTP", 8080, "HTTP", "")
    secure = checks.Listener(443, "HTTPS", 8080, "HTTPS", "arn")
    checks.instance_protocols_agree([plain, checks.Listener(81, "HTTP", 8080, "HTTP", "")])
    assert code(checks.instance_protocols_agree, [plain, secure]) == (
        "InvalidConfigurationRequest",
        409,
    )


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("HTTP:80/index.html", "HTTP:80/index.html"),
        ("http:8080/", "HTTP:8080/"),
        ("HTTPS:443/health/check", "HTTPS:443/health/check"),
        ("TCP:22", "TCP:22"),
        ("ssl:443", "SSL:443"),
    ],
)
def test_good_targets(given: str, stored: str) -> None:
    assert checks.target(given) == stored


@pytest.mark.parametrize(
    "target",
    ["", "UDP:53", "HTTP:80", "HTTP:/index", "HTTP:0/", "TCP:", "TCP:22/x", "TCP:70000", "80"],
)
def test_bad_targets(target: str) -> None:
    assert code(checks.target, target) == ("ValidationError", 400)


def health(**changes: Any) -> dict[str, Any]:
    base = {
        "Target": "HTTP:80/",
        "Interval": 30,
        "Timeout": 5,
        "UnhealthyThreshold": 2,
        "HealthyThreshold": 10,
    }
    return {**base, **changes}


def test_health_check_ranges() -> None:
    assert checks.health_check(health()) == checks.HealthCheck("HTTP:80/", 30, 5, 2, 10)
    for changes in (
        {"Interval": 4},
        {"Interval": 301},
        {"Timeout": 1},
        {"Timeout": 61},
        {"UnhealthyThreshold": 1},
        {"HealthyThreshold": 11},
        {"Interval": 5, "Timeout": 5},
    ):
        assert code(checks.health_check, health(**changes)) == ("ValidationError", 400), changes


def test_tags() -> None:
    assert checks.tags([{"Key": "a", "Value": "1"}, {"Key": "b"}]) == [("a", "1"), ("b", "")]
    assert code(checks.tags, [{"Key": "a"}, {"Key": "a"}]) == ("DuplicateTagKeys", 400)
    eleven = [{"Key": f"k{i}"} for i in range(11)]
    assert code(checks.tags, eleven) == ("TooManyTags", 400)
    assert code(checks.tags, [{"Key": "aws:x"}]) == ("ValidationError", 400)


def test_policy_attribute_rules() -> None:
    proxy = pt.BY_NAME[pt.PROXY_PROTOCOL]
    pt.check_attributes(proxy, [("ProxyProtocol", "true")], {})
    assert code(pt.check_attributes, proxy, [], {}) == ("InvalidConfigurationRequest", 409)
    bad_value = [("ProxyProtocol", "yes")]
    assert code(pt.check_attributes, proxy, bad_value, {}) == ("InvalidConfigurationRequest", 409)
    unknown = [("Nope", "true")]
    assert code(pt.check_attributes, proxy, unknown, {}) == ("InvalidConfigurationRequest", 409)
    auth = pt.BY_NAME[pt.BACKEND_AUTH]
    pt.check_attributes(auth, [("PublicKeyPolicyName", "k")], {"k": pt.PUBLIC_KEY})
    missing = [("PublicKeyPolicyName", "other")]
    assert code(pt.check_attributes, auth, missing, {"k": pt.PUBLIC_KEY}) == ("PolicyNotFound", 400)
    ssl = pt.BY_NAME[pt.SSL_NEGOTIATION]
    pt.check_attributes(ssl, [("Reference-Security-Policy", "ELBSecurityPolicy-2016-08")], {})
    made_up = [("Reference-Security-Policy", "ELBSecurityPolicy-1999")]
    assert code(pt.check_attributes, ssl, made_up, {}) == ("InvalidConfigurationRequest", 409)
