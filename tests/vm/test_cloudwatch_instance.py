"""CloudWatch's built-in metrics from a real guest: an instance launched with detailed
monitoring burns CPU over SSH, and boto3's GetMetricStatistics shows the burn in its
1-minute CPUUtilization, with the guest's network and disk traffic beside it."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.vm.cloud import VmCloud, start_vm_cloud, wait_until
from tests.vm.test_ec2_vms import all_in, console, default_image, ssh

pytestmark = [pytest.mark.vm, pytest.mark.timeout(900)]

# Long enough that at least one whole minute lies inside the burn.
BURN_SECONDS = 150
# Run in the foreground of its SSH session (a guest's background job may go with the session).
BURN = "end=$(($(date +%s)+{seconds})); while [ $(date +%s) -lt $end ]; do :; done"
SSH_OPTIONS = (
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
)  # fmt: skip


@pytest.fixture(scope="module")
def vmcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCloud]:
    yield from start_vm_cloud(tmp_path_factory.mktemp("cwcloud"))


def points(cw: Any, name: str, iid: str, since: float, stat: str = "Average") -> dict[float, float]:
    """Minute start -> the statistic, for the instance's metric since `since`."""
    out = cw.get_metric_statistics(
        Namespace="AWS/EC2",
        MetricName=name,
        Dimensions=[{"Name": "InstanceId", "Value": iid}],
        StartTime=dt.datetime.fromtimestamp(since, dt.UTC),
        EndTime=dt.datetime.fromtimestamp(time.time() + 60, dt.UTC),
        Period=60,
        Statistics=[stat],
    )
    return {p["Timestamp"].timestamp(): p[stat] for p in out["Datapoints"]}


def at_minute(cw: Any, name: str, iid: str, minute: float) -> list[float] | None:
    """[the minute's Average] once it is published (a list, so that 0% is found too)."""
    found = points(cw, name, iid, minute).get(minute)
    return None if found is None else [found]


def test_a_monitored_guests_cpu_burn_shows_in_get_metric_statistics(
    vmcloud: VmCloud, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ec2, cw = vmcloud.client("ec2"), vmcloud.client("cloudwatch")
    name = f"key-{uuid.uuid4().hex[:6]}"
    key = tmp_path / "key.pem"
    key.write_text(ec2.create_key_pair(KeyName=name)["KeyMaterial"])
    key.chmod(0o600)
    launched = time.time()
    iid = ec2.run_instances(
        ImageId=default_image(ec2),
        MinCount=1,
        MaxCount=1,
        KeyName=name,
        Monitoring={"Enabled": True},
    )["Instances"][0]["InstanceId"]
    running = wait_until(lambda: all_in(ec2, [iid], "running"), 180)[0]
    assert running["Monitoring"]["State"] == "enabled"
    wait_until(lambda: "EUCA-READY" in console(ec2, iid), 180, interval=1)
    netns, ip = vmcloud.netns(), running["PrivateIpAddress"]
    assert wait_until(lambda: ssh(netns, key, ip, "true").returncode == 0 or None, 60)
    # A quiet minute after the boot first: the baseline the burn is told from.
    quiet = math.ceil(time.time() / 60) * 60
    [baseline] = wait_until(
        lambda: at_minute(cw, "CPUUtilization", iid, quiet), quiet + 180 - time.time()
    )
    burn_start = time.time()
    burner = subprocess.Popen(
        ["ip", "netns", "exec", netns, "ssh", "-i", str(key), *SSH_OPTIONS, f"root@{ip}",
         BURN.format(seconds=BURN_SECONDS)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    request.addfinalizer(burner.kill)
    wrote = ssh(netns, key, ip, "dd if=/dev/zero of=/root/cw bs=1M count=8 2>/dev/null; sync")
    assert wrote.returncode == 0, wrote.stderr
    # The first minute wholly inside the burn, and when it closes.
    minute = math.ceil(burn_start / 60) * 60
    # Polled each half second: the moment it shows is the latency measured.
    [seen] = wait_until(
        lambda: at_minute(cw, "CPUUtilization", iid, minute),
        minute + 60 - time.time() + 120,
        interval=0.5,
    )
    latency = time.time() - (minute + 60)
    print(f"\nburn minute {minute:.0f}: {seen:.1f}% (idle {baseline:.1f}%), visible "
          f"{latency:.1f} s after the minute closed")  # fmt: skip
    assert burner.poll() is None, "the burn ended early"
    assert seen > max(2 * baseline, 20.0)
    assert max(points(cw, "CPUUtilization", iid, minute, "Maximum").values()) <= 100.0
    # The SSH sessions came in over its tap, the guest wrote to its disk (sums of the minutes
    # since the launch).
    for metric in ("NetworkIn", "NetworkOut", "NetworkPacketsIn", "DiskWriteBytes"):
        total = wait_until(
            lambda metric=metric: sum(points(cw, metric, iid, launched, "Sum").values()), 120
        )
        assert total > 0, metric
    # The aggregates detailed monitoring adds (image, type, every instance).
    image = running["ImageId"]
    by_image = cw.get_metric_statistics(
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "ImageId", "Value": image}],
        StartTime=dt.datetime.fromtimestamp(minute, dt.UTC),
        EndTime=dt.datetime.fromtimestamp(minute + 60, dt.UTC),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert [p["Maximum"] for p in by_image] == [pytest.approx(seen)]
    listed = cw.list_metrics(
        Namespace="AWS/EC2", Dimensions=[{"Name": "InstanceId", "Value": iid}]
    )["Metrics"]
    assert {"CPUUtilization", "NetworkIn", "DiskReadBytes", "StatusCheckFailed"} <= {
        m["MetricName"] for m in listed
    }
    ec2.terminate_instances(InstanceIds=[iid])
    wait_until(lambda: all_in(ec2, [iid], "terminated"), 120)
