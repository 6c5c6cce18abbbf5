"""eulb-* option parsing and LOAD_BALANCER lines, as euca2ools 3 parses and prints them."""

from __future__ import annotations

import argparse

import pytest

from mallee.euca.commands import elb_args
from mallee.euca.commands.load_balancers import lb_line
from mallee.euca.errors import CommandError


def test_a_listener_as_the_seed_writes_it() -> None:
    assert elb_args.listener("lb-port=80, protocol=HTTP, instance-port=80") == {
        "Protocol": "HTTP",
        "LoadBalancerPort": 80,
        "InstancePort": 80,
    }
    assert elb_args.listener(
        "lb-port=443,protocol=HTTPS,instance-port=80,instance-protocol=HTTP,cert-id=arn:aws:x"
    ) == {
        "Protocol": "HTTPS",
        "LoadBalancerPort": 443,
        "InstancePort": 80,
        "InstanceProtocol": "HTTP",
        "SSLCertificateId": "arn:aws:x",
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("lb-port=80, instance-port=80", "protocol is required"),
        (
            "lb-port=80, protocol=UDP, instance-port=80",
            "protocol 'UDP' is invalid (choose from 'HTTP', 'HTTPS', 'SSL', 'TCP')",
        ),
        ("protocol=HTTP, instance-port=80", "lb-port is required"),
        ("lb-port=x, protocol=HTTP, instance-port=80", "lb-port must be an integer"),
        ("lb-port=80, protocol=HTTP, instance-port=80, color=red", "invalid element(s): 'color'"),
        (
            "lb-port=80, protocol=HTTP, instance-port",
            "element ' instance-port' must have format KEY=VALUE",
        ),
        (
            "lb-port=80, protocol=TCP, instance-port=80, instance-protocol=HTTP",
            "instance-protocol must be 'HTTP' or 'HTTPS' when protocol is 'HTTP' or 'HTTPS'",
        ),
    ],
)
def test_bad_listeners_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as err:
        elb_args.listener(raw)
    assert str(err.value) == f"listener '{raw}': {message}"


def test_policy_attributes_and_lists() -> None:
    assert elb_args.attribute("name=CookieExpirationPeriod, value=60") == {
        "AttributeName": "CookieExpirationPeriod",
        "AttributeValue": "60",
    }
    with pytest.raises(argparse.ArgumentTypeError, match="value is required"):
        elb_args.attribute("name=CookieName")
    with pytest.raises(argparse.ArgumentTypeError, match="'type' is not a valid part"):
        elb_args.attribute("type=x")
    assert elb_args.instances("i-1,,i-2") == [{"InstanceId": "i-1"}, {"InstanceId": "i-2"}]
    assert elb_args.names("") == []
    assert elb_args.ports("80, 8080") == [80, 8080]


def test_health_check_targets() -> None:
    assert elb_args.check_target("TCP:22") == "TCP:22"
    assert elb_args.check_target("HTTP:80/") == "HTTP:80/"
    for bad in ("HTTP:80", "TCP"):
        with pytest.raises(CommandError) as err:
            elb_args.check_target(bad)
        assert err.value.status == 2


LB = {
    "LoadBalancerName": "MyElb",
    "DNSName": "MyElb-1a2b.eucalyptus.elb.example",
    "CanonicalHostedZoneName": "MyElb-1a2b.eucalyptus.elb.example",
    "CanonicalHostedZoneNameID": "Z1",
    "HealthCheck": {
        "Target": "HTTP:80/",
        "Interval": 30,
        "Timeout": 5,
        "HealthyThreshold": 10,
        "UnhealthyThreshold": 2,
    },
    "AvailabilityZones": ["one", "two"],
    "Instances": [{"InstanceId": "i-1"}, {"InstanceId": "i-2"}],
    "ListenerDescriptions": [
        {
            "Listener": {
                "Protocol": "HTTP",
                "LoadBalancerPort": 80,
                "InstanceProtocol": "HTTP",
                "InstancePort": 8080,
            },
            "PolicyNames": ["sticky"],
        }
    ],
    "BackendServerDescriptions": [{"InstancePort": 8080, "PolicyNames": ["pp"]}],
    "Policies": {
        "AppCookieStickinessPolicies": [{"PolicyName": "app", "CookieName": "SID"}],
        "LBCookieStickinessPolicies": [{"PolicyName": "sticky", "CookieExpirationPeriod": 60}],
        "OtherPolicies": ["pp"],
    },
    "SourceSecurityGroup": {"OwnerAlias": "123456789012", "GroupName": "default"},
    "CreatedTime": "2013-06-10T06:57:52.07Z",
    "Scheme": "internet-facing",
}


def test_the_load_balancer_line_short_and_long() -> None:
    assert lb_line(LB, long=False) == [
        "LOAD_BALANCER",
        "MyElb",
        "MyElb-1a2b.eucalyptus.elb.example",
        "2013-06-10T06:57:52.07Z",
        "internet-facing",
    ]
    assert lb_line(LB, long=True) == [
        "LOAD_BALANCER",
        "MyElb",
        "MyElb-1a2b.eucalyptus.elb.example",
        "MyElb-1a2b.eucalyptus.elb.example",
        "Z1",
        "{interval=30,target=HTTP:80/,timeout=5,healthy-threshold=10,unhealthy-threshold=2}",
        "one,two",
        "",
        None,
        "i-1,i-2",
        "{protocol=HTTP,lb-port=80,instance-protocol=HTTP,instance-port=8080,{sticky}}",
        "{instance-port=8080,policies={pp}}",
        "{policy-name=app,cookie-name=SID}",
        "{policy-name=sticky,cookie-expiration-period=60}",
        "{pp}",
        "{owner-alias=123456789012,group-name=default}",
        None,
        "2013-06-10T06:57:52.07Z",
        "internet-facing",
    ]
