"""Elastic Load Balancing's data plane with real VMs (issue #20), on a `mallee up` cloud.

    .venv/bin/python bench/elb.py [--seconds 5]   (as root: the node uses namespaces)

Two instances of the default image (busybox httpd answering its instance id) behind one
load balancer, every client in the cloud's public namespace (the outside):

- CreateLoadBalancer + RegisterInstancesWithLoadBalancer -> the first answer through its DNS
  name: at most 2 s;
- small HTTP requests by wrk (one thread, 8 connections): through the load balancer to the two
  back ends, against the same requests straight to one back end (its public IP); the load
  balancer at least 80% of the straight figure; and the median at one connection, under 1 ms
  added by the load balancer;
- a back end that stops answering (its httpd killed over SSH): seconds until
  DescribeInstanceHealth says OutOfService and until no request fails, against
  interval x unhealthy threshold + 1 s;
- a deregistration: seconds until no request reaches the instance (at most 1 s).

moto runs no load balancer, so the figures are printed against the targets. The guests run
under TCG here, so the straight figure is the guest's httpd's, and the load balancer spreads
the same requests over two such guests.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import dataplanes
import replay
from servers import Server, start_mallee, stop
from vm_boot import GUEST_TYPE, REAL_NODE, ec2_client, until, wait_for_node

INTERVAL, UNHEALTHY = 5, 2
HEALTH = {"Target": "HTTP:80/index.html", "Interval": INTERVAL, "Timeout": 2,
          "UnhealthyThreshold": UNHEALTHY, "HealthyThreshold": 2}  # fmt: skip
LISTENER = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP",
            "InstancePort": 80}  # fmt: skip


def elb_client(server: Server) -> Any:
    return boto3.client(
        "elb",
        endpoint_url=server.url,
        region_name="eucalyptus",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def run_in(netns: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *argv], capture_output=True, text=True, check=False
    )


def served(outside: str, url: str) -> str:
    """The instance id that answered `url`, "" when nothing did."""
    out = run_in(outside, "curl", "-s", "--connect-timeout", "1", "-m", "2", url)
    found = re.search(r"instance-id: (i-[0-9a-f]+)", out.stdout)
    return found.group(1) if found else ""


def wrk(outside: str, url: str, seconds: float, conns: int) -> tuple[float, float]:
    """(requests/s, median latency in s) from the public namespace."""
    duration = f"-d{max(1, round(seconds))}s"
    out = run_in(outside, "wrk", "-t1", f"-c{conns}", duration, "--latency", url)
    run = replay.parse(out.stdout)
    return run.rps, run.p50


def backends(ec2: Any, keyfile: Path) -> list[dict[str, Any]]:
    image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
    for port in (22, 80):
        ec2.authorize_security_group_ingress(
            GroupName="default", IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0"
        )
    keyfile.write_text(ec2.create_key_pair(KeyName="bench")["KeyMaterial"])
    keyfile.chmod(0o600)
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId=image["Images"][0]["ImageId"], MinCount=2, MaxCount=2, KeyName="bench",
            InstanceType=GUEST_TYPE,
        )["Instances"]
    ]  # fmt: skip
    found: list[dict[str, Any]] = []

    def up() -> bool:
        found[:] = [
            i
            for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
            for i in r["Instances"]
        ]
        return all(i["State"]["Name"] == "running" and i.get("PublicIpAddress") for i in found)

    until(up, time.monotonic(), what="two running instances")
    return found


def measure(server: Server, data: Path, seconds: float) -> dict[str, float]:
    ec2, elb = ec2_client(server), elb_client(server)
    wait_for_node(ec2)
    ec2.modify_instance_type_attribute(Name=GUEST_TYPE, Memory=128)
    keyfile = data.parent / "key.pem"
    found = backends(ec2, keyfile)
    outside = dataplanes.public_netns(data)
    node_ns = dataplanes.node_netns(data, REAL_NODE["MALLEE_NODE_NAME"])
    for inst in found:
        url = f"http://{inst['PublicIpAddress']}/"
        until(lambda url=url: bool(served(outside, url)), time.monotonic(), what="http")
    ids = [i["InstanceId"] for i in found]
    out: dict[str, float] = {}

    start = time.monotonic()
    dns = elb.create_load_balancer(
        LoadBalancerName="bench", Listeners=[LISTENER],
        AvailabilityZones=[found[0]["Placement"]["AvailabilityZone"]],
    )["DNSName"]  # fmt: skip
    elb.register_instances_with_load_balancer(
        LoadBalancerName="bench", Instances=[{"InstanceId": i} for i in ids]
    )
    lb_url = f"http://{dns}/"
    out["serving"] = until(lambda: bool(served(outside, lb_url)), start, what="the LB")
    elb.configure_health_check(LoadBalancerName="bench", HealthCheck=HEALTH)

    def all_in_service() -> bool:
        states = elb.describe_instance_health(LoadBalancerName="bench")["InstanceStates"]
        return all(s["State"] == "InService" for s in states)

    until(all_in_service, time.monotonic(), what="InService")
    straight = f"http://{found[0]['PublicIpAddress']}/"
    out["direct_rps"], _ = wrk(outside, straight, seconds, 8)
    out["lb_rps"], _ = wrk(outside, lb_url, seconds, 8)
    # The latency one request adds: one connection, so no request waits behind another.
    _, out["direct_p50"] = wrk(outside, straight, seconds, 1)
    _, out["lb_p50"] = wrk(outside, lb_url, seconds, 1)

    down, up = found
    ssh = ["ssh", "-i", str(keyfile), "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes",
           "-o", "UserKnownHostsFile=/dev/null", f"root@{down['PrivateIpAddress']}"]  # fmt: skip
    killed = time.monotonic()
    run_in(node_ns, *ssh, "killall httpd")

    def out_of_service() -> bool:
        states = elb.describe_instance_health(
            LoadBalancerName="bench", Instances=[{"InstanceId": down["InstanceId"]}]
        )["InstanceStates"]
        return bool(states[0]["State"] == "OutOfService")

    def only_up() -> bool:
        return all(served(outside, lb_url) == up["InstanceId"] for _ in range(4))

    out["out_of_service"] = until(out_of_service, killed, what="OutOfService")
    out["no_failures"] = until(only_up, killed, what="no failed request")
    run_in(node_ns, *ssh, "httpd -p 80 -h /www")
    until(all_in_service, time.monotonic(), what="InService again")
    dropped = time.monotonic()
    elb.deregister_instances_from_load_balancer(
        LoadBalancerName="bench", Instances=[{"InstanceId": down["InstanceId"]}]
    )
    out["deregistered"] = until(only_up, dropped, what="deregistration")
    elb.delete_load_balancer(LoadBalancerName="bench")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "mallee"
        server = start_mallee(Path(d), **REAL_NODE)
        try:
            m = measure(server, data, args.seconds)
        finally:
            stop(server)
            dataplanes.remove(data, REAL_NODE["MALLEE_NODE_NAME"])
    ratio = m["lb_rps"] / m["direct_rps"]
    added = (m["lb_p50"] - m["direct_p50"]) * 1e3
    print(f"{'':52}{'measured':>10}{'target':>10}")
    print(
        f"{'CreateLoadBalancer -> answer via its DNS name (s)':52}{m['serving']:10.2f}{2.0:10.2f}"
    )
    print(f"{'straight to one back end, requests/s':52}{m['direct_rps']:10.0f}")
    print(f"{'through the load balancer (two back ends), req/s':52}{m['lb_rps']:10.0f}")
    print(f"{'  load balancer / straight':52}{ratio:9.0%} {'80%':>9}")
    print(f"{'  median added at 1 connection (ms)':52}{added:10.2f}{1.0:10.2f}")
    limit = INTERVAL * UNHEALTHY + 1
    print(f"{'back end down -> OutOfService (s)':52}{m['out_of_service']:10.2f}{limit:10.2f}")
    print(f"{'back end down -> no request fails (s)':52}{m['no_failures']:10.2f}{limit:10.2f}")
    print(f"{'deregistration -> live (s)':52}{m['deregistered']:10.2f}{1.0:10.2f}")


if __name__ == "__main__":
    main()
