"""Security group changes on the data path: AuthorizeSecurityGroupIngress returning -> the
port answering, RevokeSecurityGroupIngress returning -> it blocked (issue target: median <= 1 s).

Starts `mallee up` with a real VM (the default image serves HTTP on port 80), and polls its
public IP from the public namespace every 20 ms with a fresh connection each time. moto has no
data path, so there is no peer column: the figure stands against the target.

Usage: python bench/edge_latency.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import dataplanes
from servers import start_mallee, stop


def answers(outside: str, ip: str) -> bool:
    """Whether `ip` answers HTTP from the namespace `outside` (the cloud's public one)."""
    argv = ["ip", "netns", "exec", outside, "curl", "-s", "-o", "/dev/null",
            "--connect-timeout", "0.2", "-m", "0.5", f"http://{ip}/"]  # fmt: skip
    return subprocess.run(argv, check=False).returncode == 0


def until(check: Any, timeout: float = 60) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise SystemExit("timed out")
        time.sleep(0.02)
    return time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        server = start_mallee(Path(d))
        try:
            ec2 = boto3.client(
                "ec2", endpoint_url=server.url, region_name="eucalyptus",
                aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
                config=Config(retries={"max_attempts": 1}),
            )  # fmt: skip
            name = f"bench-{uuid.uuid4().hex[:6]}"
            ec2.create_security_group(GroupName=name, Description="bench")
            image = ec2.describe_images(Filters=[{"Name": "name", "Values": ["mallee-default"]}])
            launched: list[str] = []

            def launch() -> bool:
                # The node reports its capacity a moment after the api is up.
                try:
                    found = ec2.run_instances(
                        ImageId=image["Images"][0]["ImageId"], MinCount=1, MaxCount=1,
                        SecurityGroups=[name],
                    )  # fmt: skip
                except ClientError as err:
                    if err.response["Error"]["Code"] != "InsufficientInstanceCapacity":
                        raise
                    time.sleep(0.5)
                    return False
                launched.append(found["Instances"][0]["InstanceId"])
                return True

            until(launch, 120)
            iid = launched[0]

            def public_ip() -> str:
                found = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
                inst = found["Instances"][0]
                ready = inst["State"]["Name"] == "running" and inst.get("PublicIpAddress")
                return str(inst["PublicIpAddress"]) if ready else ""

            until(public_ip, 120)
            ip = public_ip()
            outside = dataplanes.public_netns(Path(d) / "mallee")
            rule = {"GroupName": name, "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                    "CidrIp": "0.0.0.0/0"}  # fmt: skip
            # Wait for the guest's web server once, with the port open.
            ec2.authorize_security_group_ingress(**rule)
            until(lambda: answers(outside, ip), 120)
            ec2.revoke_security_group_ingress(**rule)
            until(lambda: not answers(outside, ip))
            opened, closed = [], []
            for _ in range(args.rounds):
                ec2.authorize_security_group_ingress(**rule)
                opened.append(until(lambda: answers(outside, ip)))
                ec2.revoke_security_group_ingress(**rule)
                closed.append(until(lambda: not answers(outside, ip)))
            ec2.terminate_instances(InstanceIds=[iid])

            def terminated() -> bool:
                found = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
                return bool(found["Instances"][0]["State"]["Name"] == "terminated")

            until(terminated)
        finally:
            stop(server)
            dataplanes.remove(Path(d) / "mallee", f"node-{socket.gethostname()}")
    print(f"{'':44}{'median (s)':>11}{'max (s)':>9}")
    for label, values in (
        ("authorize -> port answers", opened),
        ("revoke -> port blocked", closed),
    ):
        print(f"{label:44}{statistics.median(values):11.3f}{max(values):9.3f}")


if __name__ == "__main__":
    main()
