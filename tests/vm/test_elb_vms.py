"""Elastic Load Balancing with real VMs on two nodes, driven through boto3: a load balancer's
DNS name resolves from the outside, its HAProxy worker spreads requests over the registered
instances, follows an LB cookie, takes a stopped back end out of rotation, drains a
deregistered one, terminates HTTPS with an IAM server certificate, and leaves nothing behind
when deleted."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.vm.cloud import VmCloud, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import all_in, console, default_image, in_ns, ssh

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

LB = "web"
HTTP_LISTENER = {
    "Protocol": "HTTP",
    "LoadBalancerPort": 80,
    "InstanceProtocol": "HTTP",
    "InstancePort": 80,
}

HEALTH_CHECK = {
    "Target": "HTTP:80/index.html",
    "Interval": 5,
    "Timeout": 2,
    "UnhealthyThreshold": 2,
    "HealthyThreshold": 2,
}


@pytest.fixture(scope="module")
def cloud2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    yield from start_vm_cloud(tmp_path_factory.mktemp("elb"), nodes=2)


@pytest.fixture(scope="module")
def backends(cloud2: VmCloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two running instances, one per node, answering HTTP with their instance ids."""
    ec2 = cloud2.client("ec2")
    name = f"lb-{uuid.uuid4().hex[:6]}"
    group = ec2.create_security_group(GroupName=name, Description="back ends")["GroupId"]
    for port in (22, 80):
        ec2.authorize_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0"
        )
    key = tmp_path_factory.mktemp("key") / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    launched = ec2.run_instances(
        ImageId=default_image(ec2), MinCount=2, MaxCount=2, KeyName=name, SecurityGroups=[name]
    )["Instances"]
    ids = [i["InstanceId"] for i in launched]
    found = wait_until(lambda: all_in(ec2, ids, "running"), 120)
    for iid in ids:
        wait_until(lambda iid=iid: "EUCA-READY" in console(ec2, iid), 120)
    zone = found[0]["Placement"]["AvailabilityZone"]
    return {"ec2": ec2, "ids": ids, "instances": found, "key": key, "zone": zone,
            "outside": cloud2.public_netns()}  # fmt: skip


def fetch(outside: str, url: str, *extra: str) -> str | None:
    out = in_ns(outside, "curl", "-s", "--connect-timeout", "1", "-m", "3", *extra, url)
    return out.stdout if out.returncode == 0 else None


def served_by(page: str | None, ids: list[str]) -> str | None:
    return next((i for i in ids if page and f"instance-id: {i}" in page), None)


def health(elb: Any) -> dict[str, str]:
    states = elb.describe_instance_health(LoadBalancerName=LB)["InstanceStates"]
    return {s["InstanceId"]: s["State"] for s in states}


@pytest.fixture(scope="module")
def balancer(cloud2: VmCloud, backends: dict[str, Any]) -> dict[str, Any]:
    elb = cloud2.client("elb")
    outside, ids = backends["outside"], backends["ids"]
    start = time.monotonic()
    dns_name = elb.create_load_balancer(
        LoadBalancerName=LB, Listeners=[HTTP_LISTENER], AvailabilityZones=[backends["zone"]]
    )["DNSName"]
    elb.configure_health_check(
        LoadBalancerName=LB,
        HealthCheck=HEALTH_CHECK,
    )
    elb.register_instances_with_load_balancer(
        LoadBalancerName=LB, Instances=[{"InstanceId": i} for i in ids]
    )
    url = f"http://{dns_name}/"
    wait_until(lambda: served_by(fetch(outside, url), ids) is not None, 60, interval=0.1)
    return {"elb": elb, "dns": dns_name, "url": url, "serving_after": time.monotonic() - start}


def test_the_dns_name_resolves_from_the_outside_to_the_worker(
    backends: dict[str, Any], balancer: dict[str, Any]
) -> None:
    # Every node's server answers for the name (any of them may take a query).
    for _ in range(10):
        out = in_ns(backends["outside"], "getent", "hosts", balancer["dns"])
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[0].count(".") == 3


def test_requests_alternate_between_the_back_ends(
    backends: dict[str, Any], balancer: dict[str, Any]
) -> None:
    ids = backends["ids"]
    wait_until(lambda: set(health(balancer["elb"]).values()) == {"InService"}, 60)
    seen = [served_by(fetch(backends["outside"], balancer["url"]), ids) for _ in range(10)]
    assert set(seen) == set(ids), seen


def test_an_lb_cookie_keeps_a_client_on_one_back_end(
    backends: dict[str, Any], balancer: dict[str, Any], tmp_path: Path
) -> None:
    elb, outside, ids = balancer["elb"], backends["outside"], backends["ids"]
    elb.create_lb_cookie_stickiness_policy(
        LoadBalancerName=LB, PolicyName="sticky", CookieExpirationPeriod=300
    )
    elb.set_load_balancer_policies_of_listener(
        LoadBalancerName=LB, LoadBalancerPort=80, PolicyNames=["sticky"]
    )
    jar = tmp_path / "jar"

    def sticky_first() -> bool:
        jar.unlink(missing_ok=True)
        fetch(outside, balancer["url"], "-c", str(jar))
        return jar.exists() and "AWSELB" in jar.read_text()

    # A registration change is live within a second; the policy is one.
    wait_until(sticky_first, 10, interval=0.2)
    seen = {served_by(fetch(outside, balancer["url"], "-b", str(jar)), ids) for _ in range(8)}
    assert len(seen) == 1 and None not in seen, seen
    elb.set_load_balancer_policies_of_listener(
        LoadBalancerName=LB, LoadBalancerPort=80, PolicyNames=[]
    )


def test_a_back_end_that_stops_answering_goes_out_of_service(
    cloud2: VmCloud, backends: dict[str, Any], balancer: dict[str, Any]
) -> None:
    elb, outside, ids = balancer["elb"], backends["outside"], backends["ids"]
    down, up = backends["instances"]
    netns = cloud2.netns(cloud2.node_of(down["InstanceId"]))
    killed = ssh(netns, backends["key"], down["PrivateIpAddress"], "killall httpd")
    assert killed.returncode == 0, killed.stderr
    # Interval 5 s x UnhealthyThreshold 2, and a second for the report.
    wait_until(lambda: health(elb).get(down["InstanceId"]) == "OutOfService", 30)
    state = elb.describe_instance_health(
        LoadBalancerName=LB, Instances=[{"InstanceId": down["InstanceId"]}]
    )["InstanceStates"][0]
    assert state["ReasonCode"] == "Instance"
    seen = [served_by(fetch(outside, balancer["url"]), ids) for _ in range(10)]
    assert seen == [up["InstanceId"]] * 10, seen


def test_a_deregistered_instance_leaves_the_load_balancer(
    backends: dict[str, Any], balancer: dict[str, Any]
) -> None:
    elb = balancer["elb"]
    down = backends["instances"][0]["InstanceId"]
    left = elb.deregister_instances_from_load_balancer(
        LoadBalancerName=LB, Instances=[{"InstanceId": down}]
    )["Instances"]
    assert {i["InstanceId"] for i in left} == {backends["instances"][1]["InstanceId"]}
    described = elb.describe_load_balancers(LoadBalancerNames=[LB])["LoadBalancerDescriptions"]
    assert [i["InstanceId"] for i in described[0]["Instances"]] == [
        backends["instances"][1]["InstanceId"]
    ]


def _certificate(name: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def test_an_https_listener_serves_with_an_uploaded_certificate(
    cloud2: VmCloud, backends: dict[str, Any], balancer: dict[str, Any], tmp_path: Path
) -> None:
    elb, outside = balancer["elb"], backends["outside"]
    cert, key = _certificate(balancer["dns"])
    arn = cloud2.client("iam").upload_server_certificate(
        ServerCertificateName=f"web-{uuid.uuid4().hex[:6]}", CertificateBody=cert, PrivateKey=key
    )["ServerCertificateMetadata"]["Arn"]
    elb.create_load_balancer_listeners(
        LoadBalancerName=LB,
        Listeners=[
            {**HTTP_LISTENER, "Protocol": "HTTPS", "LoadBalancerPort": 443, "SSLCertificateId": arn}
        ],
    )
    ca = tmp_path / "ca.pem"
    ca.write_text(cert)
    url = f"https://{balancer['dns']}/"
    up = backends["instances"][1]["InstanceId"]
    wait_until(
        lambda: served_by(fetch(outside, url, "--cacert", str(ca)), [up]) is not None,
        10,
        interval=0.2,
    )


def test_deleting_the_load_balancer_leaves_nothing(
    cloud2: VmCloud, backends: dict[str, Any], balancer: dict[str, Any]
) -> None:
    elb, outside = balancer["elb"], backends["outside"]
    elb.delete_load_balancer(LoadBalancerName=LB)

    def gone() -> bool:
        resolved = in_ns(outside, "getent", "hosts", balancer["dns"]).returncode == 0
        spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        workers = [n for n in spaces.split() if n.startswith(f"mallee-{cloud2.cloud_id()}-lb-")]
        return not resolved and not workers

    wait_until(gone, 60)
    assert fetch(outside, balancer["url"]) is None
    assert elb.describe_load_balancers()["LoadBalancerDescriptions"] == []
