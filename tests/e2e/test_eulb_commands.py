"""The seed's eulb-* transcript and the other eulb commands, run as console scripts against a
live cloud (fake hypervisor: the instances run no web server, so their health is whatever the
load balancer's checks find, InService or OutOfService, never a missing line).

Output lines are matched with euca2ools 3's formats (its elasticloadbalancing commands):
ids, DNS names and times by pattern, everything else literally.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import REGION, Cloud
from tests.e2e.test_euca_commands import ID, TIME, Euca, matches, unique

pytestmark = pytest.mark.e2e

HEALTH = r"(?:InService|OutOfService)"
LISTENER = "lb-port=80, protocol=HTTP, instance-port=80"


@pytest.fixture(scope="module")
def euca(cloud: Cloud) -> Euca:
    return Euca(cloud)


@pytest.fixture(scope="module")
def zone(euca: Euca) -> str:
    (line,) = euca("euca-describe-availability-zones")
    return line.split("\t")[1]


@pytest.fixture(scope="module")
def instances(euca: Euca) -> Iterator[list[str]]:
    (image,) = euca("euca-describe-images", "-a", "--filter", "name=mallee-default")
    ran = euca("euca-run-instances", image.split("\t")[1], "-n", "2")
    ids = [line.split("\t")[1] for line in ran if line.startswith("INSTANCE\t")]
    assert len(ids) == 2, ran
    yield ids
    euca("euca-terminate-instances", *ids)


def dns_pattern(name: str) -> str:
    return rf"{re.escape(name)}-[0-9a-z]+\.{REGION}\.elb\.\S+"


def create(euca: Euca, zone: str, name: str) -> str:
    # eulb-create-lb -z PARTI00 -l 'lb-port=80, protocol=HTTP, instance-port=80' MyElb
    out = euca("eulb-create-lb", "-z", zone, "-l", LISTENER, name)
    matches(out, rf"DNS_NAME\t{dns_pattern(name)}")
    return out[0].split("\t")[1]


def test_the_seed_transcript(euca: Euca, zone: str, instances: list[str]) -> None:
    name = unique("MyElb")
    dns = create(euca, zone, name)
    try:
        # LOAD_BALANCER  MyElb  <dns>  2013-06-10T06:57:52.07Z  internet-facing
        matches(
            euca("eulb-describe-lbs", name),
            rf"LOAD_BALANCER\t{name}\t{re.escape(dns)}\t{TIME}\tinternet-facing",
        )
        assert any(line.split("\t")[1] == name for line in euca("eulb-describe-lbs"))
        # eulb-register-instances-with-lb MyElb --instances i-25D3415E,i-16463E17
        registered = euca(
            "eulb-register-instances-with-lb", name, "--instances", ",".join(instances)
        )
        assert sorted(registered) == sorted(f"INSTANCE\t{i}" for i in instances)
        # eulb-describe-instance-health MyElb -> INSTANCE i-25D3415E InService
        health = euca("eulb-describe-instance-health", name)
        assert sorted(line.split("\t")[1] for line in health) == sorted(instances)
        for line in health:
            assert re.fullmatch(rf"INSTANCE\ti-{ID}\t{HEALTH}", line), line
        # --show-long adds the description and the reason code.
        (one,) = euca(
            "eulb-describe-instance-health", name, "--show-long", "--instances", instances[0]
        )
        assert re.fullmatch(rf"INSTANCE\t{instances[0]}\t{HEALTH}\t[^\t]+\t\S+", one), one
        # eulb-deregister-instances-from-lb MyElb --instances i-16463E17: those left.
        matches(
            euca("eulb-deregister-instances-from-lb", name, "--instances", instances[1]),
            rf"INSTANCE\t{instances[0]}",
        )
    finally:
        # eulb-delete-lb MyElb
        assert euca("eulb-delete-lb", name) == []
    assert name not in "\n".join(euca("eulb-describe-lbs"))


def test_listeners_health_check_and_policies(euca: Euca, zone: str) -> None:
    name = unique("lb")
    dns = create(euca, zone, name)
    try:
        (long,) = euca("eulb-describe-lbs", "--show-long", name)
        fields = long.split("\t")
        assert fields[:3] == ["LOAD_BALANCER", name, dns]
        # name, dns, zone name, zone id, check, zones, subnets, vpc, instances, listeners,
        # back ends, app cookie, lb cookie, other policies, source group, groups, time, scheme
        assert len(fields) == 19, fields
        assert fields[5] == (
            "{interval=30,target=TCP:80,timeout=5,healthy-threshold=10,unhealthy-threshold=2}"
        )
        assert fields[6] == zone
        assert fields[10] == "{protocol=HTTP,lb-port=80,instance-protocol=HTTP,instance-port=80}"
        assert re.fullmatch(TIME, fields[17]) and fields[18] == "internet-facing"

        matches(
            euca(
                "eulb-configure-healthcheck", name, "-t", "HTTP:80/index.html", "--interval",
                "6", "--timeout", "3", "--healthy-threshold", "2", "--unhealthy-threshold", "3",
            ),
            r"HEALTH_CHECK\tHTTP:80/index\.html\t6\t3\t2\t3",
        )  # fmt: skip
        assert (
            euca(
                "eulb-create-lb-policy", name, "--policy-name", "sticky", "--policy-type",
                "LBCookieStickinessPolicyType", "-a", "name=CookieExpirationPeriod,value=60",
            )
            == []
        )  # fmt: skip
        assert (
            euca("eulb-set-lb-policies-of-listener", name, "--lb-port", "80", "-p", "sticky") == []
        )
        listener = "lb-port=8080, protocol=TCP, instance-port=8080"
        assert euca("eulb-create-lb-listeners", name, "-l", listener) == []

        fields = euca("eulb-describe-lbs", "--show-long", name)[0].split("\t")
        assert fields[5] == (
            "{interval=6,target=HTTP:80/index.html,timeout=3,healthy-threshold=2,"
            "unhealthy-threshold=3}"
        )
        assert sorted(fields[10].split("},{")) == sorted(
            [
                "{protocol=HTTP,lb-port=80,instance-protocol=HTTP,instance-port=80,{sticky}",
                "protocol=TCP,lb-port=8080,instance-protocol=TCP,instance-port=8080}",
            ]
        )
        assert fields[13] == "{policy-name=sticky,cookie-expiration-period=60}"

        assert euca("eulb-delete-lb-listeners", name, "--lb-ports", "8080") == []
        fields = euca("eulb-describe-lbs", "--show-long", name)[0].split("\t")
        assert "lb-port=8080" not in fields[10]
        # Clearing a listener's policies takes an empty list.
        euca("eulb-set-lb-policies-of-listener", name, "--lb-port", "80", "-p", "")
        fields = euca("eulb-describe-lbs", "--show-long", name)[0].split("\t")
        assert fields[10] == "{protocol=HTTP,lb-port=80,instance-protocol=HTTP,instance-port=80}"
    finally:
        euca("eulb-delete-lb", name)


def test_bad_input_is_one_sentence(euca: Euca, zone: str) -> None:
    def fails(done: subprocess.CompletedProcess[str], start: str) -> None:
        assert done.returncode != 0 and not done.stdout, done
        assert done.stderr.startswith(start), done.stderr
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1

    missing = unique("nosuch")
    fails(
        euca.run("eulb-describe-lbs", missing),
        "eulb-describe-lbs: error (LoadBalancerNotFound): ",
    )
    fails(
        euca.run("eulb-delete-lb-listeners", missing, "--lb-ports", "80"),
        "eulb-delete-lb-listeners: error (LoadBalancerNotFound): ",
    )
    name = unique("dup")
    dns = create(euca, zone, name)
    try:
        # As AWS: the same name with the same listeners answers the load balancer again.
        assert create(euca, zone, name) == dns
        other = "lb-port=81, protocol=TCP, instance-port=81"
        fails(
            euca.run("eulb-create-lb", "-z", zone, "-l", other, name),
            "eulb-create-lb: error (DuplicateLoadBalancerName): ",
        )
        fails(
            euca.run("eulb-register-instances-with-lb", name, "--instances", "i-0000000000000000f"),
            "eulb-register-instances-with-lb: error (InvalidInstance): ",
        )
        fails(
            euca.run("eulb-set-lb-policies-of-listener", name, "--lb-port", "80", "-p", "nosuch"),
            "eulb-set-lb-policies-of-listener: error (PolicyNotFound): ",
        )
        fails(
            euca.run(
                "eulb-create-lb-listeners", name, "-l", "lb-port=80, protocol=TCP, instance-port=81"
            ),
            "eulb-create-lb-listeners: error (DuplicateListener): ",
        )
    finally:
        euca("eulb-delete-lb", name)
    # Refused before any request: the messages of euca2ools' argument checks.
    bad_listener = euca.run("eulb-create-lb", "-z", zone, "-l", "lb-port=80", name)
    assert bad_listener.returncode == 2
    assert "listener 'lb-port=80': protocol is required" in bad_listener.stderr
    bad_target = euca.run(
        "eulb-configure-healthcheck", name, "-t", "HTTP:80", "--interval", "30", "--timeout",
        "5", "--healthy-threshold", "2", "--unhealthy-threshold", "2",
    )  # fmt: skip
    assert bad_target.returncode == 2
    assert "path is required for protocol 'HTTP'" in bad_target.stderr
